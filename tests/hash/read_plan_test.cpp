#include "read_plan.hpp"

#include <gtest/gtest.h>

namespace rdd::hash::detail {
namespace {

constexpr std::uint32_t kB = 4096;

TEST(PlanReads, NothingSkippedIsOneRangeAndComplete) {
    const ReadPlan p = plan_reads(10000, kB, {});
    EXPECT_TRUE(p.complete);
    EXPECT_EQ(p.ranges, (std::vector<ByteRange>{{0, 10000}}));
}

TEST(PlanReads, EmptyFileHasNoRanges) {
    const ReadPlan p = plan_reads(0, kB, {{0, 5}});
    EXPECT_TRUE(p.complete);
    EXPECT_TRUE(p.ranges.empty());
}

TEST(PlanReads, SkipsAreSortedMergedAndClamped) {
    // 10 blocks, the last partial; skip 1..2, 2..4 (overlap), 8..100 (past EOF), 50 (outside).
    const ReadPlan p = plan_reads(9 * kB + 10, kB, {{8, 92}, {2, 3}, {1, 2}, {50, 1}, {6, 0}});
    EXPECT_FALSE(p.complete);
    EXPECT_EQ(p.ranges, (std::vector<ByteRange>{{0, kB}, {5 * kB, 8 * kB}}));
}

TEST(PlanReads, SkipEverythingLeavesNothingToRead) {
    const ReadPlan p = plan_reads(3 * kB, kB, {{0, ~std::uint64_t{0}}});
    EXPECT_FALSE(p.complete);
    EXPECT_TRUE(p.ranges.empty());
}

TEST(PlanReads, SkipOnlyBeyondEofKeepsWholeDigest) {
    const ReadPlan p = plan_reads(2 * kB, kB, {{2, 1}, {9, 9}});
    EXPECT_TRUE(p.complete);
    EXPECT_EQ(p.ranges, (std::vector<ByteRange>{{0, 2 * kB}}));
}

TEST(PlanReads, SkipTheLastPartialBlock) {
    const ReadPlan p = plan_reads(2 * kB + 1, kB, {{2, 1}});
    EXPECT_FALSE(p.complete);
    EXPECT_EQ(p.ranges, (std::vector<ByteRange>{{0, 2 * kB}}));
}

}  // namespace
}  // namespace rdd::hash::detail
