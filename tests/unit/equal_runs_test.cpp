// Comparing buffers block by block and finding the runs worth sharing.
#include "reflinkdedup/plan/equal_runs.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace rdd {
namespace {

using S = BlockState;

std::vector<std::byte> bytes(std::size_t n, unsigned char v) { return std::vector<std::byte>(n, std::byte{v}); }

TEST(EqualRuns, ComparesWholeAndPartialBlocks) {
    auto a = bytes(10, 1), b = bytes(10, 1);
    b[5] = std::byte{2};
    EXPECT_EQ(equal_blocks(a, b, 4), (std::vector<bool>{true, false, true}));
    b[9] = std::byte{3};
    EXPECT_EQ(equal_blocks(a, b, 4), (std::vector<bool>{true, false, false}));
}

TEST(EqualRuns, RunsSkipDifferingSharedAndHoleBlocks) {
    const std::vector<S> st{S::Candidate, S::Candidate, S::AlreadyShared, S::Candidate,
                            S::Candidate, S::Candidate, S::DestinationHole, S::Candidate};
    const std::vector<bool> eq{true, true, true, true, false, true, true, true};
    EXPECT_EQ(shareable_runs(st, eq),
              (std::vector<BlockRun>{{0, 2}, {3, 1}, {5, 1}, {7, 1}}));
}

TEST(EqualRuns, NothingEqualGivesNoRuns) {
    const std::vector<S> st(5, S::Candidate);
    EXPECT_TRUE(shareable_runs(st, std::vector<bool>(5, false)).empty());
    EXPECT_EQ(shareable_runs(st, std::vector<bool>(5, true)), (std::vector<BlockRun>{{0, 5}}));
}

}  // namespace
}  // namespace rdd
