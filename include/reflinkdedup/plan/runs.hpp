#pragma once
// Coalescing block mappings into runs: consecutive destination blocks that map to consecutive
// source blocks of one file become one dedupe request. Pure.
#include <cstdint>
#include <span>
#include <vector>

#include "reflinkdedup/plan/block_groups.hpp"

namespace rdd {

struct SharedRun {
    std::int64_t src_file = 0;
    std::uint64_t src_index = 0;
    std::int64_t dst_file = 0;
    std::uint64_t dst_index = 0;
    std::uint64_t count = 0;  // blocks
    friend constexpr bool operator==(const SharedRun&, const SharedRun&) = default;
};

// `mappings` must be sorted by (dst.file, dst.index) with each destination block at most once.
// Within one file, a run never overlaps its own source range (the kernel refuses that): such a
// run is cut where the overlap would begin.
[[nodiscard]] std::vector<SharedRun> coalesce_runs(std::span<const BlockMapping> mappings);

}  // namespace rdd
