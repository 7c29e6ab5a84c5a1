#pragma once
// The order dedup-vol runs its jobs in (one job = one destination file), so that a time budget
// (--max-runtime) spends itself on what gives the most space back. Pure.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace rdd {

struct JobValue {
    std::uint64_t freed = 0;   // expected bytes freed
    std::uint64_t shared = 0;  // bytes to share (ties: frees nothing now but converges)
    std::int64_t file = 0;     // last tie-break: a rerun takes the same order
};

// Indices into `jobs`: largest freed first, then most shared, then lowest file id.
[[nodiscard]] std::vector<std::size_t> savings_order(std::span<const JobValue> jobs);

}  // namespace rdd
