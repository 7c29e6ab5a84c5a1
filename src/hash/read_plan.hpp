#pragma once
// Internal: which byte ranges of a file must be read once the caller's skip list is applied.
#include <cstdint>
#include <vector>

#include "reflinkdedup/hash/hasher.hpp"

namespace rdd::hash::detail {

struct ByteRange {
    std::uint64_t begin = 0;
    std::uint64_t end = 0;  // exclusive
    friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

struct ReadPlan {
    std::vector<ByteRange> ranges;  // ascending, disjoint, each begins on a block boundary
    bool complete = true;           // nothing skipped: the whole-file digest can be computed
};

// `skip` may be unsorted, overlapping, or reach past the end of the file.
[[nodiscard]] ReadPlan plan_reads(std::uint64_t size, std::uint32_t block_size,
                                  std::vector<BlockRange> skip);

}  // namespace rdd::hash::detail
