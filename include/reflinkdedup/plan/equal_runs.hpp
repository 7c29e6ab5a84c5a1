#pragma once
// Runs of blocks worth sharing: equal bytes in both files and not already shared.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "reflinkdedup/plan/block_sharing.hpp"

namespace rdd {

struct BlockRun {
    std::size_t first = 0;  // block index within the compared range
    std::size_t count = 0;
    friend bool operator==(const BlockRun&, const BlockRun&) = default;
};

// Per block: do `a` and `b` hold the same bytes? The last block may be partial; both spans
// have the same length.
[[nodiscard]] std::vector<bool> equal_blocks(std::span<const std::byte> a,
                                             std::span<const std::byte> b,
                                             std::uint64_t block_size);

// Maximal runs of blocks that are Candidate and equal.
[[nodiscard]] std::vector<BlockRun> shareable_runs(std::span<const BlockState> states,
                                                   const std::vector<bool>& equal);

}  // namespace rdd
