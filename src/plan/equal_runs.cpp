#include "reflinkdedup/plan/equal_runs.hpp"

#include <algorithm>
#include <cstring>

namespace rdd {

std::vector<bool> equal_blocks(std::span<const std::byte> a, std::span<const std::byte> b,
                               std::uint64_t block_size) {
    std::vector<bool> out;
    const std::size_t n = std::min(a.size(), b.size());
    const auto bs = static_cast<std::size_t>(block_size);
    if (bs == 0) return out;
    out.reserve((n + bs - 1) / bs);
    for (std::size_t off = 0; off < n; off += bs) {
        const std::size_t len = std::min(bs, n - off);
        out.push_back(std::memcmp(a.data() + off, b.data() + off, len) == 0);
    }
    return out;
}

std::vector<BlockRun> shareable_runs(std::span<const BlockState> states,
                                     const std::vector<bool>& equal) {
    std::vector<BlockRun> runs;
    const std::size_t n = std::min(states.size(), equal.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (states[i] != BlockState::Candidate || !equal[i]) continue;
        if (!runs.empty() && runs.back().first + runs.back().count == i) {
            ++runs.back().count;
        } else {
            runs.push_back({i, 1});
        }
    }
    return runs;
}

}  // namespace rdd
