// The FIDEDUPERANGE length rules of KERNEL-FACTS §1, as computed before each call.
#include "reflinkdedup/plan/dedupe_length.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace rdd {
namespace {

constexpr std::uint64_t kBlock = 4096;
constexpr std::uint64_t kMiB = 1 << 20;

TEST(DedupeLength, MidFileLengthRoundsDownToBlock) {
    const auto l = dedupe_length({0, 0, 5000, kMiB, kMiB}, kBlock);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->request, 4096u);
    EXPECT_FALSE(l->reaches_eof);
}

TEST(DedupeLength, LessThanABlockMidFileIsNothing) {
    EXPECT_FALSE(dedupe_length({0, 0, 100, kMiB, kMiB}, kBlock));
}

TEST(DedupeLength, SameSizeTailsAreSharedWhole) {
    const auto l = dedupe_length({0, 0, 1049576, 1049576, 1049576}, kBlock);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->request, 1049576u);
    EXPECT_TRUE(l->reaches_eof);
}

TEST(DedupeLength, LongerDestinationLosesThePartialTail) {
    const auto l = dedupe_length({0, 0, 1049576, 1049576, 1049576 + 8192}, kBlock);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->request, 1048576u);
    EXPECT_FALSE(l->reaches_eof);
}

TEST(DedupeLength, NeverPastTheSourceEof) {
    // Rounding 1049576 up to 1052672 would fail the whole ioctl with EINVAL.
    const auto l = dedupe_length({0, 0, 1052672, 1049576, 1049576}, kBlock);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->request, 1049576u);
    const auto l2 = dedupe_length({0, 0, 2 * kMiB, 1049576, 4 * kMiB}, kBlock);
    ASSERT_TRUE(l2);
    EXPECT_EQ(l2->request, 1048576u);
}

TEST(DedupeLength, NeverPastTheDestinationEof) {
    const auto l = dedupe_length({0, 0, 2 * kMiB, 2 * kMiB, kMiB + 100}, kBlock);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->request, kMiB);
}

TEST(DedupeLength, MisalignedOffsetsAreRefused) {
    EXPECT_FALSE(dedupe_length({100, 0, kBlock, kMiB, kMiB}, kBlock));
    EXPECT_FALSE(dedupe_length({0, 100, kBlock, kMiB, kMiB}, kBlock));
}

TEST(DedupeLength, OffsetsAtOrPastEofAreRefused) {
    EXPECT_FALSE(dedupe_length({kMiB, 0, kBlock, kMiB, 2 * kMiB}, kBlock));
    EXPECT_FALSE(dedupe_length({0, kMiB, kBlock, 2 * kMiB, kMiB}, kBlock));
    EXPECT_FALSE(dedupe_length({0, 0, 0, kMiB, kMiB}, kBlock));
}

TEST(DedupeLength, BadBlockSizesAreRefused) {
    EXPECT_FALSE(dedupe_length({0, 0, kBlock, kMiB, kMiB}, 0));
    EXPECT_FALSE(dedupe_length({0, 0, kBlock, kMiB, kMiB}, 3000));
}

TEST(DedupeLength, DifferentOffsetsAtBothEofs) {
    // Source tail [8192, 8292) and destination tail [4096, 4196): both end at EOF.
    const auto l = dedupe_length({8192, 4096, 100, 8292, 4196}, kBlock);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->request, 100u);
    EXPECT_TRUE(l->reaches_eof);
}

// Every combination of small sizes/offsets/lengths (block 8): the request obeys every kernel
// rule and is the longest one that does.
TEST(DedupeLength, ExhaustiveSmallCasesObeyTheRulesAndAreMaximal) {
    constexpr std::uint64_t b = 8;
    int checked = 0;
    for (std::uint64_t ss = 1; ss <= 40; ++ss)
        for (std::uint64_t ds = 1; ds <= 40; ++ds)
            for (std::uint64_t so = 0; so <= 40; so += b)
                for (std::uint64_t dof = 0; dof <= 40; dof += b)
                    for (std::uint64_t len = 0; len <= 44; ++len) {
                        const auto l = dedupe_length({so, dof, len, ss, ds}, b);
                        const bool in_files = so < ss && dof < ds;
                        const std::uint64_t avail =
                            in_files ? std::min({len, ss - so, ds - dof}) : 0;
                        const bool eof = in_files && so + avail == ss && dof + avail == ds;
                        const std::uint64_t expect = eof ? avail : avail - avail % b;
                        if (expect == 0) {
                            EXPECT_FALSE(l) << so << " " << dof << " " << len << " " << ss << " " << ds;
                            continue;
                        }
                        ASSERT_TRUE(l);
                        EXPECT_EQ(l->request, expect);
                        EXPECT_LE(so + l->request, ss);
                        EXPECT_LE(dof + l->request, ds);
                        EXPECT_LE(l->request, len);
                        if (l->request % b != 0) {
                            EXPECT_EQ(so + l->request, ss);
                            EXPECT_EQ(dof + l->request, ds);
                        }
                        ++checked;
                    }
    EXPECT_GT(checked, 10000);
}

}  // namespace
}  // namespace rdd
