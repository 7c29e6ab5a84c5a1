#include "reflinkdedup/plan/block_sharing.hpp"

#include <algorithm>

namespace rdd {

namespace {

// Walks a sorted extent list with monotonically increasing positions.
class ExtentCursor {
public:
    explicit ExtentCursor(std::span<const Extent> extents) : extents_(extents) {}

    // The extent containing pos, or nullptr for a hole.
    const Extent* at(std::uint64_t pos) {
        while (next_ < extents_.size() && extents_[next_].end() <= pos) ++next_;
        if (next_ < extents_.size() && extents_[next_].logical <= pos) return &extents_[next_];
        return nullptr;
    }

private:
    std::span<const Extent> extents_;
    std::size_t next_ = 0;
};

// Whether [s_pos, +len) of the source and [d_pos, +len) of the destination are the same disk
// bytes. Encoded (compressed) extents are not linear, so for them only an identical reference
// to the same extent counts.
bool same_disk_bytes(const Extent& s, std::uint64_t s_pos, const Extent& d, std::uint64_t d_pos,
                     std::uint64_t len) {
    if (!s.has_address() || !d.has_address()) return false;
    if (s_pos + len > s.end() || d_pos + len > d.end()) return false;
    const std::uint64_t s_in = s_pos - s.logical;
    const std::uint64_t d_in = d_pos - d.logical;
    if (s.encoded || d.encoded) {
        return s.encoded && d.encoded && s.physical == d.physical && s.length == d.length &&
               s_in == d_in;
    }
    return s.physical + s_in == d.physical + d_in;
}

}  // namespace

std::vector<BlockState> classify_blocks(std::span<const Extent> src, std::span<const Extent> dst,
                                        const AlignedRanges& r, std::uint64_t block_size) {
    std::vector<BlockState> states;
    if (block_size == 0) return states;
    states.reserve(static_cast<std::size_t>((r.length + block_size - 1) / block_size));
    ExtentCursor sc(src), dc(dst);
    for (std::uint64_t off = 0; off < r.length; off += block_size) {
        const std::uint64_t len = std::min(block_size, r.length - off);
        const Extent* d = dc.at(r.dst_offset + off);
        const Extent* s = sc.at(r.src_offset + off);
        if (d == nullptr) {
            states.push_back(BlockState::DestinationHole);
        } else if (s != nullptr &&
                   same_disk_bytes(*s, r.src_offset + off, *d, r.dst_offset + off, len)) {
            states.push_back(BlockState::AlreadyShared);
        } else {
            states.push_back(BlockState::Candidate);
        }
    }
    return states;
}

std::uint64_t shared_bytes(std::span<const Extent> src, std::span<const Extent> dst,
                           const AlignedRanges& r, std::uint64_t block_size) {
    const auto states = classify_blocks(src, dst, r, block_size);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < states.size(); ++i) {
        if (states[i] != BlockState::AlreadyShared) continue;
        const std::uint64_t off = i * block_size;
        total += std::min(block_size, r.length - off);
    }
    return total;
}

}  // namespace rdd
