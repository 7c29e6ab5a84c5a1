#include "reflinkdedup/scan/block_places.hpp"

#include <algorithm>

namespace rdd {

std::vector<BlockSpan> hole_blocks(std::span<const Extent> extents, std::uint64_t size,
                                   std::uint64_t block_size) {
    std::vector<BlockSpan> holes;
    if (block_size == 0 || size == 0) return holes;
    const std::uint64_t blocks = (size + block_size - 1) / block_size;
    // A gap [from, to) in bytes holds the blocks that start at or after `from` and end by `to`
    // (or by EOF for the last, partial block).
    auto add_gap = [&](std::uint64_t from, std::uint64_t to) {
        const std::uint64_t first = (from + block_size - 1) / block_size;
        std::uint64_t end = to >= size ? blocks : to / block_size;
        end = std::min(end, blocks);
        if (first < end) holes.push_back({first, end - first});
    };
    std::uint64_t pos = 0;
    for (const Extent& e : extents) {
        if (e.logical > pos) add_gap(pos, e.logical);
        pos = std::max(pos, e.end());
    }
    if (pos < size) add_gap(pos, size);
    return holes;
}

std::uint64_t BlockAddresses::physical(std::uint64_t block_index) {
    const std::uint64_t start = block_index * block_size_;
    const std::uint64_t end = std::min(start + block_size_, size_);
    while (next_ < extents_.size() && extents_[next_].end() <= start) ++next_;
    if (next_ == extents_.size()) return 0;
    const Extent& e = extents_[next_];
    if (e.logical > start || !e.has_address() || e.encoded || e.unwritten) return 0;
    // The block's bytes up to EOF must lie in this one extent.
    if (end > e.end()) return 0;
    return e.physical + (start - e.logical);
}

}  // namespace rdd
