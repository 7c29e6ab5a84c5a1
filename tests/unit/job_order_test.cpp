// The order of dedup-vol's jobs: largest savings first, so a time budget buys the most space.
#include "reflinkdedup/plan/job_order.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace rdd {
namespace {

TEST(JobOrder, LargestFreedFirstThenSharedThenFileId) {
    const std::vector<JobValue> jobs{{10, 0, 1}, {30, 5, 2}, {10, 7, 3}, {0, 100, 4}, {30, 5, 0}, {10, 7, 9}};
    EXPECT_EQ(savings_order(jobs), (std::vector<std::size_t>{4, 1, 2, 5, 0, 3}));
    EXPECT_TRUE(savings_order({}).empty());
}

TEST(JobOrder, RandomJobsComeOutSortedAndComplete) {
    std::mt19937_64 rng(3);
    for (int round = 0; round < 200; ++round) {
        std::vector<JobValue> jobs(rng() % 30);
        for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i] = {rng() % 4, rng() % 3, static_cast<std::int64_t>(i)};
        const auto order = savings_order(jobs);
        ASSERT_EQ(order.size(), jobs.size());
        std::vector<std::size_t> seen = order;
        std::sort(seen.begin(), seen.end());
        for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i);
        for (std::size_t i = 1; i < order.size(); ++i) {
            const JobValue &a = jobs[order[i - 1]], &b = jobs[order[i]];
            ASSERT_TRUE(a.freed > b.freed || (a.freed == b.freed && (a.shared > b.shared ||
                                                                     (a.shared == b.shared && a.file < b.file))));
        }
    }
}

}  // namespace
}  // namespace rdd
