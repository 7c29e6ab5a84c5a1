#include "reflinkdedup/plan/runs.hpp"

namespace rdd {

namespace {

// Whether extending `run` by one block keeps it a valid request.
bool extends(const SharedRun& run, const BlockMapping& m) {
    if (m.dst.file != run.dst_file || m.src.file != run.src_file) return false;
    if (m.dst.index != run.dst_index + run.count || m.src.index != run.src_index + run.count) {
        return false;
    }
    if (run.src_file != run.dst_file) return true;
    // Same file: the grown ranges [src, src+n] and [dst, dst+n] must stay disjoint.
    const std::uint64_t n = run.count + 1;
    return run.src_index + n <= run.dst_index || run.dst_index + n <= run.src_index;
}

}  // namespace

std::vector<SharedRun> coalesce_runs(std::span<const BlockMapping> mappings) {
    std::vector<SharedRun> runs;
    for (const BlockMapping& m : mappings) {
        if (!runs.empty() && extends(runs.back(), m)) {
            ++runs.back().count;
        } else {
            runs.push_back({m.src.file, m.src.index, m.dst.file, m.dst.index, 1});
        }
    }
    return runs;
}

}  // namespace rdd
