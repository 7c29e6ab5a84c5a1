// The kernel bug table against the versions bees' table gives (docs/btrfs-kernel.md).
#include <gtest/gtest.h>

#include "reflinkdedup/ops/kernel_bugs.hpp"

namespace rdd::ops {
namespace {

KernelVersion v(unsigned a, unsigned b, unsigned c = 0) { return {a, b, c}; }

std::size_t bug_count(const KernelVersion& k) { return btrfs_dedupe_bugs(k).size(); }

TEST(KernelVersionParse, ReleaseStrings) {
    EXPECT_EQ(parse_kernel_version("6.18.44-fc-v595"), v(6, 18, 44));
    EXPECT_EQ(parse_kernel_version("5.4.0-100-generic"), v(5, 4, 0));
    EXPECT_EQ(parse_kernel_version("5.10"), v(5, 10, 0));
    EXPECT_EQ(parse_kernel_version("5.10-rc3"), v(5, 10, 0));
    EXPECT_EQ(parse_kernel_version("2.6.78-fc"), v(2, 6, 78));
    EXPECT_EQ(parse_kernel_version("4.19.31\n"), v(4, 19, 31));
    EXPECT_FALSE(parse_kernel_version(""));
    EXPECT_FALSE(parse_kernel_version("6"));
    EXPECT_FALSE(parse_kernel_version("6."));
    EXPECT_FALSE(parse_kernel_version("linux-6.1"));
    EXPECT_FALSE(parse_kernel_version("99999999999.1"));
    EXPECT_EQ(to_string(v(5, 4, 13)), "5.4.13");
}

TEST(KernelVersionParse, DistributionVersionsWin) {
    // Ubuntu: the ABI number in the release is not the patch level.
    EXPECT_EQ(upstream_kernel_version("5.4.0-100-generic", "#113-Ubuntu SMP Thu Feb 3 18:43:29 UTC 2022",
                                      "Ubuntu 5.4.0-100.113-generic 5.4.166\n"),
              v(5, 4, 166));
    EXPECT_EQ(upstream_kernel_version("6.1.0-18-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)", ""),
              v(6, 1, 76));
    EXPECT_EQ(upstream_kernel_version("6.18.44-fc-v595", "#1 SMP", ""), v(6, 18, 44));
    // An unreadable signature falls back to the release.
    EXPECT_EQ(upstream_kernel_version("5.5.3", "", "garbage"), v(5, 5, 3));
    EXPECT_FALSE(upstream_kernel_version("weird", "", ""));
}

TEST(KernelBugs, RelocRootCorruption_5_1_to_5_4_13) {
    // bees: first bad 5.1, last bad 5.4 (through 5.4.13), fixed in 5.4.14 and 5.5.
    EXPECT_EQ(bug_count(v(5, 0, 21)), 0u);
    EXPECT_EQ(bug_count(v(5, 1, 0)), 1u);
    EXPECT_EQ(bug_count(v(5, 1, 21)), 1u);
    EXPECT_EQ(bug_count(v(5, 2, 21)), 1u);
    EXPECT_EQ(bug_count(v(5, 3, 18)), 1u);
    EXPECT_EQ(bug_count(v(5, 4, 0)), 1u);
    EXPECT_EQ(bug_count(v(5, 4, 13)), 1u);
    EXPECT_EQ(bug_count(v(5, 4, 14)), 0u);
    EXPECT_EQ(bug_count(v(5, 4, 300)), 0u);
    EXPECT_EQ(bug_count(v(5, 5, 0)), 0u);
    EXPECT_EQ(bug_count(v(6, 18, 44)), 0u);
    EXPECT_EQ(btrfs_dedupe_bugs(v(5, 3, 0)).front()->fix_commit.substr(0, 12), "6282675e6708");
}

TEST(KernelBugs, SharedCompressedExtentsAfterHolePunch) {
    // Fixed in 3.16.70, 3.18.137, 4.4.177, 4.9.165, 4.14.108, 4.19.31, 5.0.4, 5.1 and later.
    for (const auto& [bad, good] : {std::pair{v(4, 4, 176), v(4, 4, 177)}, {v(4, 9, 164), v(4, 9, 165)},
                                   {v(4, 14, 107), v(4, 14, 108)}, {v(4, 19, 30), v(4, 19, 31)},
                                   {v(5, 0, 3), v(5, 0, 4)}, {v(3, 16, 69), v(3, 16, 70)}}) {
        EXPECT_EQ(bug_count(bad), 1u) << to_string(bad);
        EXPECT_EQ(bug_count(good), 0u) << to_string(good);
    }
    // Series that never got the backport stay bad to their end.
    EXPECT_EQ(bug_count(v(4, 20, 17)), 1u);
    EXPECT_EQ(bug_count(v(4, 15, 18)), 1u);
    EXPECT_EQ(bug_count(v(2, 6, 78)), 1u);  // what UNAME26 reports (tests/cli uses it)
    EXPECT_EQ(btrfs_dedupe_bugs(v(4, 20, 0)).front()->fix_commit.substr(0, 12), "8e928218780e");
}

TEST(KernelBugs, FixedVersionsText) {
    const auto bugs = btrfs_dedupe_bugs(v(5, 2, 0));
    ASSERT_EQ(bugs.size(), 1u);
    EXPECT_EQ(fixed_versions_text(*bugs.front()), "fixed in 5.4.14, 5.5 and later");
}

}  // namespace
}  // namespace rdd::ops
