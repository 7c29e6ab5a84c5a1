// Grouping requests into FIDEDUPERANGE calls within the kernel's limits.
#include "reflinkdedup/plan/dedupe_batches.hpp"

#include <gtest/gtest.h>

#include <random>

namespace rdd {
namespace {

TEST(DedupeBatches, SameRangeManyDestinationsSplitsAt127) {
    std::vector<DedupeRequest> reqs;
    for (std::size_t d = 0; d < 128; ++d) reqs.push_back({d, 0, 0, 1 << 20});
    const auto calls = batch_requests(reqs);
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0].dests.size(), 127u);
    EXPECT_EQ(calls[1].dests.size(), 1u);
    EXPECT_EQ(calls[1].dests[0].dest, 127u);
    for (const auto& c : calls) {
        EXPECT_EQ(c.src_offset, 0u);
        EXPECT_EQ(c.length, 1u << 20);
    }
}

TEST(DedupeBatches, LongRequestsAreSplitIntoPiecesOfAtMostMaxBytes) {
    const std::uint64_t gib = std::uint64_t{1} << 30;
    const std::vector<DedupeRequest> reqs{{0, 0, 4096, 2 * gib + 100}};
    const auto calls = batch_requests(reqs);
    ASSERT_EQ(calls.size(), 3u);
    EXPECT_EQ(calls[0].length, gib);
    EXPECT_EQ(calls[1].src_offset, gib);
    EXPECT_EQ(calls[1].dests[0].dst_offset, 4096 + gib);
    EXPECT_EQ(calls[2].length, 100u);  // only the last piece carries the EOF tail
}

TEST(DedupeBatches, DifferentRangesNeverShareACall) {
    const std::vector<DedupeRequest> reqs{{0, 0, 0, 8192}, {1, 0, 0, 4096}, {2, 4096, 4096, 4096}};
    const auto calls = batch_requests(reqs);
    ASSERT_EQ(calls.size(), 3u);
    EXPECT_EQ(calls[0], (DedupeCall{0, 4096, {{1, 0}}}));
    EXPECT_EQ(calls[1], (DedupeCall{0, 8192, {{0, 0}}}));
    EXPECT_EQ(calls[2], (DedupeCall{4096, 4096, {{2, 4096}}}));
}

TEST(DedupeBatches, ZeroLimitsAreRejected) {
    const std::vector<DedupeRequest> reqs{{0, 0, 0, 4096}};
    EXPECT_THROW((void)batch_requests(reqs, {0, 4096}), std::invalid_argument);
}

// Random requests (one per destination): every destination byte is covered exactly once, by a
// piece mapping it to the same source byte as its request, and no call breaks a limit.
TEST(DedupeBatches, RandomRequestsAreCoveredExactlyWithinLimits) {
    std::mt19937_64 rng(42);
    for (int round = 0; round < 50; ++round) {
        const BatchLimits limits{static_cast<std::uint32_t>(1 + rng() % 5), 4096 * (1 + rng() % 4)};
        std::vector<DedupeRequest> reqs;
        const std::size_t n = 1 + rng() % 20;
        for (std::size_t d = 0; d < n; ++d) {
            const std::uint64_t off = 4096 * (rng() % 4);
            reqs.push_back({d, off, 4096 * (rng() % 3), 1 + rng() % 20000});
        }
        // Per destination: which source byte each destination byte was mapped to, and how often.
        std::vector<std::vector<std::int64_t>> mapped(n);
        for (const auto& r : reqs) mapped[r.dest].assign(r.dst_offset + r.length, -1);
        for (const auto& c : batch_requests(reqs, limits)) {
            ASSERT_FALSE(c.dests.empty());
            ASSERT_LE(c.dests.size(), limits.max_dests);
            ASSERT_LE(c.length, limits.max_bytes);
            for (const auto& d : c.dests) {
                for (std::uint64_t k = 0; k < c.length; ++k) {
                    ASSERT_LT(d.dst_offset + k, mapped[d.dest].size());
                    auto& slot = mapped[d.dest][d.dst_offset + k];
                    ASSERT_EQ(slot, -1) << "byte covered twice";
                    slot = static_cast<std::int64_t>(c.src_offset + k);
                }
            }
        }
        for (const auto& r : reqs) {
            for (std::uint64_t k = 0; k < r.length; ++k) {
                ASSERT_EQ(mapped[r.dest][r.dst_offset + k], static_cast<std::int64_t>(r.src_offset + k));
            }
        }
    }
}

}  // namespace
}  // namespace rdd
