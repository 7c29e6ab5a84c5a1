#pragma once
// From "these blocks hold the same bytes" to "share those with this one": the keeper choice for
// one group of identical blocks. Pure: catalog rows in, mappings out.
//
// The keeper (source) of a group is, in order of preference:
//   1. a block whose physical address the most occurrences already share (nothing moves for
//      them, and a second run finds every occurrence sharing it: runs converge);
//   2. a block of a file that may not be modified (read-only snapshot, immutable), which can
//      only ever be a source;
//   3. the lowest (file, index), so identical files map block for block onto one file and
//      mappings coalesce into long runs.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace rdd {

struct BlockRef {
    std::int64_t file = 0;
    std::uint64_t index = 0;     // block number within the file
    std::uint64_t physical = 0;  // disk address, 0 = unknown
    friend constexpr auto operator<=>(const BlockRef&, const BlockRef&) = default;
};

struct BlockMapping {
    BlockRef dst;  // to be made to share...
    BlockRef src;  // ...this block's data
    friend constexpr auto operator<=>(const BlockMapping&, const BlockMapping&) = default;
};

// Whether a file may be a destination (false for read-only snapshots, immutable files, ...).
using DestinationTest = std::function<bool(std::int64_t file)>;

// Appends the mappings of one group (occurrences of one digest, any order) to `out`.
// Occurrences already at the keeper's physical address, and those that may not be modified,
// get no mapping.
void map_identical_blocks(std::span<const BlockRef> group, const DestinationTest& may_modify,
                          std::vector<BlockMapping>& out);

}  // namespace rdd
