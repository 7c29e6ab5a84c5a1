#include "read_plan.hpp"

#include <algorithm>

namespace rdd::hash::detail {

ReadPlan plan_reads(std::uint64_t size, std::uint32_t block_size, std::vector<BlockRange> skip) {
    const std::uint64_t blocks = size / block_size + (size % block_size != 0 ? 1 : 0);
    std::sort(skip.begin(), skip.end(),
              [](const BlockRange& a, const BlockRange& b) { return a.first < b.first; });
    ReadPlan plan;
    std::uint64_t next = 0;  // first block not yet placed in the plan or skipped
    for (const BlockRange& s : skip) {
        if (s.count == 0 || s.first >= blocks) continue;
        const std::uint64_t end = s.count > blocks - s.first ? blocks : s.first + s.count;
        if (end <= next) continue;  // inside a range already skipped
        plan.complete = false;
        if (s.first > next) plan.ranges.push_back({next * block_size, s.first * block_size});
        next = end;
    }
    if (next < blocks) plan.ranges.push_back({next * block_size, size});
    return plan;
}

}  // namespace rdd::hash::detail
