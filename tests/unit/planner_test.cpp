// Keeper choice and run coalescing: from groups of identical blocks to dedupe runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "reflinkdedup/plan/block_groups.hpp"
#include "reflinkdedup/plan/runs.hpp"

namespace rdd {
namespace {

const DestinationTest kAnyFile = [](std::int64_t) { return true; };

std::vector<BlockMapping> map_group(std::vector<BlockRef> group, const DestinationTest& t = kAnyFile) {
    std::vector<BlockMapping> out;
    map_identical_blocks(group, t, out);
    return out;
}

TEST(KeeperChoice, LowestFileAndIndexWhenNothingIsShared) {
    const auto m = map_group({{3, 0, 300}, {1, 5, 100}, {2, 0, 200}});
    ASSERT_EQ(m.size(), 2u);
    for (const auto& x : m) EXPECT_EQ(x.src, (BlockRef{1, 5, 100}));
}

TEST(KeeperChoice, TheMostSharedPhysicalWinsSoRunsConverge) {
    // Files 2 and 3 already share 900; file 1 is new: it is the one to move.
    const auto m = map_group({{1, 0, 100}, {2, 0, 900}, {3, 0, 900}});
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].dst, (BlockRef{1, 0, 100}));
    EXPECT_EQ(m[0].src.physical, 900u);
    // Once everyone shares, nothing is left to do.
    EXPECT_TRUE(map_group({{1, 0, 900}, {2, 0, 900}, {3, 0, 900}}).empty());
}

TEST(KeeperChoice, UnmodifiableFilesAreKeptNeverDestinations) {
    const DestinationTest not_file_2 = [](std::int64_t f) { return f != 2; };
    const auto m = map_group({{1, 0, 100}, {2, 7, 200}, {3, 0, 300}}, not_file_2);
    ASSERT_EQ(m.size(), 2u);
    for (const auto& x : m) {
        EXPECT_EQ(x.src, (BlockRef{2, 7, 200}));
        EXPECT_NE(x.dst.file, 2);
    }
    // Even when the shared physical is elsewhere, a read-only file is never a destination.
    const auto m2 = map_group({{1, 0, 100}, {3, 0, 100}, {2, 0, 200}}, not_file_2);
    for (const auto& x : m2) EXPECT_NE(x.dst.file, 2);
}

TEST(KeeperChoice, UnknownPhysicalAddressesNeverCountAsShared) {
    const auto m = map_group({{1, 0, 0}, {2, 0, 0}});
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].dst.file, 2);
}

TEST(Runs, IdenticalFilesBecomeOneRun) {
    std::vector<BlockMapping> maps;
    for (std::uint64_t i = 0; i < 10; ++i) maps.push_back({{2, i, 0}, {1, i, 0}});
    EXPECT_EQ(coalesce_runs(maps), (std::vector<SharedRun>{{1, 0, 2, 0, 10}}));
}

TEST(Runs, BreaksAtGapsSourceChangesAndOffsets) {
    const std::vector<BlockMapping> maps{
        {{2, 0, 0}, {1, 4, 0}}, {{2, 1, 0}, {1, 5, 0}},  // run at another offset
        {{2, 2, 0}, {3, 6, 0}},                          // another source file
        {{2, 4, 0}, {3, 8, 0}},                          // a gap in the destination
        {{2, 5, 0}, {3, 10, 0}},                         // a jump in the source
    };
    EXPECT_EQ(coalesce_runs(maps), (std::vector<SharedRun>{
                                       {1, 4, 2, 0, 2}, {3, 6, 2, 2, 1}, {3, 8, 2, 4, 1}, {3, 10, 2, 5, 1}}));
}

TEST(Runs, RunsInsideOneFileNeverOverlapTheirSource) {
    // A file whose blocks 0..5 all hold the same bytes: each maps to block 0's... no, to the
    // preceding block in a repeated pattern; the run must stop before it overlaps itself.
    std::vector<BlockMapping> maps;
    for (std::uint64_t i = 2; i < 8; ++i) maps.push_back({{1, i, 0}, {1, i - 2, 0}});
    for (const SharedRun& r : coalesce_runs(maps)) {
        const bool disjoint = r.src_index + r.count <= r.dst_index || r.dst_index + r.count <= r.src_index;
        EXPECT_TRUE(disjoint) << r.src_index << "+" << r.count << " vs " << r.dst_index;
    }
}

// Random groups: every mapping is covered by exactly one run block, runs map block i of the
// destination onto the block the mapping names, and runs are maximal where allowed.
TEST(Runs, RandomMappingsAreCoveredExactly) {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 200; ++round) {
        std::map<std::pair<std::int64_t, std::uint64_t>, BlockRef> want;  // dst -> src
        for (int i = 0; i < 60; ++i) {
            const std::int64_t df = static_cast<std::int64_t>(rng() % 3);
            const std::uint64_t di = rng() % 30;
            const std::int64_t sf = static_cast<std::int64_t>(rng() % 3);
            const std::uint64_t si = rng() % 30;
            if (sf == df && si == di) continue;
            want[{df, di}] = {sf, si, 0};
        }
        std::vector<BlockMapping> maps;
        for (const auto& [dst, src] : want) maps.push_back({{dst.first, dst.second, 0}, src});
        std::map<std::pair<std::int64_t, std::uint64_t>, BlockRef> got;
        for (const SharedRun& r : coalesce_runs(maps)) {
            for (std::uint64_t k = 0; k < r.count; ++k) {
                ASSERT_TRUE(got.emplace(std::pair{r.dst_file, r.dst_index + k},
                                        BlockRef{r.src_file, r.src_index + k, 0}).second);
            }
        }
        EXPECT_EQ(got, want);
    }
}

}  // namespace
}  // namespace rdd
