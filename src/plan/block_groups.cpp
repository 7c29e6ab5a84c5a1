#include "reflinkdedup/plan/block_groups.hpp"

#include <algorithm>
#include <map>

namespace rdd {

namespace {

// The physical address shared by the most occurrences (at least two), or 0.
std::uint64_t most_shared_physical(std::span<const BlockRef> group) {
    std::map<std::uint64_t, std::size_t> counts;
    for (const BlockRef& b : group) {
        if (b.physical != 0) ++counts[b.physical];
    }
    std::uint64_t best = 0;
    std::size_t best_count = 1;
    for (const auto& [phys, n] : counts) {
        if (n > best_count) {
            best = phys;
            best_count = n;
        }
    }
    return best;
}

const BlockRef& choose_keeper(std::span<const BlockRef> group, const DestinationTest& may_modify) {
    const BlockRef* keeper = nullptr;
    auto consider = [&](auto&& eligible) {
        for (const BlockRef& b : group) {
            if (eligible(b) && (keeper == nullptr || b < *keeper)) keeper = &b;
        }
        return keeper != nullptr;
    };
    if (const std::uint64_t phys = most_shared_physical(group);
        phys != 0 && consider([&](const BlockRef& b) { return b.physical == phys; })) {
        return *keeper;
    }
    if (consider([&](const BlockRef& b) { return !may_modify(b.file); })) return *keeper;
    consider([](const BlockRef&) { return true; });
    return *keeper;
}

}  // namespace

void map_identical_blocks(std::span<const BlockRef> group, const DestinationTest& may_modify,
                          std::vector<BlockMapping>& out) {
    if (group.size() < 2) return;
    const BlockRef keeper = choose_keeper(group, may_modify);
    for (const BlockRef& b : group) {
        if (b == keeper) continue;
        if (keeper.physical != 0 && b.physical == keeper.physical) continue;  // already shared
        if (!may_modify(b.file)) continue;
        out.push_back({b, keeper});
    }
}

}  // namespace rdd
