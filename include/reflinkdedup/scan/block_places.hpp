#pragma once
// Where each block of a file lives, from its FIEMAP extents: in a hole (known zeros, never
// read), at a physical address (recorded so already-shared data can be recognized), or
// somewhere unknown (delalloc, inline, compressed). Pure.
#include <cstdint>
#include <span>
#include <vector>

#include "reflinkdedup/model/extent.hpp"

namespace rdd {

struct BlockSpan {
    std::uint64_t first = 0;
    std::uint64_t count = 0;
    friend constexpr bool operator==(const BlockSpan&, const BlockSpan&) = default;
};

// Blocks of a file of `size` bytes that lie entirely in holes (no extent at all), as sorted,
// disjoint spans. Unwritten (preallocated) extents are not holes here: they are read (as zeros).
[[nodiscard]] std::vector<BlockSpan> hole_blocks(std::span<const Extent> extents, std::uint64_t size,
                                                 std::uint64_t block_size);

// Walks blocks in increasing order and tells each one's physical address: non-zero only when
// the whole block lies in one plain extent (not encoded, inline, unknown or unwritten).
class BlockAddresses {
public:
    BlockAddresses(std::span<const Extent> extents, std::uint64_t size, std::uint64_t block_size)
        : extents_(extents), size_(size), block_size_(block_size) {}
    [[nodiscard]] std::uint64_t physical(std::uint64_t block_index);

private:
    std::span<const Extent> extents_;
    std::uint64_t size_;
    std::uint64_t block_size_;
    std::size_t next_ = 0;
};

}  // namespace rdd
