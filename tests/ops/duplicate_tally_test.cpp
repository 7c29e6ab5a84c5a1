#include <gtest/gtest.h>

#include <vector>

#include "reflinkdedup/report/duplicate_tally.hpp"

namespace rdd::report {
namespace {

using Tallies = std::map<std::int64_t, DuplicateTally>;

Tallies tally(const std::vector<GroupBlock>& g) {
    Tallies t;
    tally_group(g, t);
    return t;
}

TEST(DuplicateTally, EveryCopyBeyondTheFirstIsDuplicate) {
    const Tallies t = tally({{1, 100, 4096}, {1, 200, 4096}, {2, 300, 4096}});
    EXPECT_EQ(t.at(1), (DuplicateTally{4096, 0}));
    EXPECT_EQ(t.at(2), (DuplicateTally{4096, 0}));
}

TEST(DuplicateTally, SamePlaceIsShared) {
    // Two reflinks of the first copy, one separate copy in volume 2.
    const Tallies t = tally({{1, 100, 65536}, {1, 100, 65536}, {2, 100, 65536}, {2, 500, 65536}});
    EXPECT_EQ(t.at(1), (DuplicateTally{0, 65536}));
    EXPECT_EQ(t.at(2), (DuplicateTally{65536, 65536}));
}

TEST(DuplicateTally, UnknownPlacesAreSeparateCopies) {
    const Tallies t = tally({{1, 0, 10}, {1, 0, 10}, {1, 7, 10}, {1, 7, 10}});
    EXPECT_EQ(t.at(1), (DuplicateTally{20, 10}));
}

TEST(DuplicateTally, SharedLaterCopyCountsOnce) {
    // copy A, copy B, B again: one duplicate (B), one shared.
    const Tallies t = tally({{3, 1, 5}, {3, 2, 5}, {3, 2, 5}});
    EXPECT_EQ(t.at(3), (DuplicateTally{5, 5}));
}

TEST(DuplicateTally, AccumulatesAcrossGroups) {
    Tallies t;
    tally_group(std::vector<GroupBlock>{{1, 1, 4}, {1, 2, 4}}, t);
    tally_group(std::vector<GroupBlock>{{1, 3, 4}, {1, 3, 4}}, t);
    EXPECT_EQ(t.at(1), (DuplicateTally{4, 4}));
}

}  // namespace
}  // namespace rdd::report
