// Classifying blocks from FIEMAP extents: already shared, destination hole, candidate.
#include "reflinkdedup/plan/block_sharing.hpp"

#include <gtest/gtest.h>

#include "extent_builder.hpp"

#include <vector>

namespace rdd {
namespace {

constexpr std::uint64_t kB = 4096;
using S = BlockState;

using test::ext;

TEST(BlockSharing, SameDiskBytesAreAlreadyShared) {
    const std::vector<Extent> src{ext(0, 1000 * kB, 4 * kB)};
    const std::vector<Extent> dst{ext(0, 1000 * kB, 2 * kB * 1), ext(2 * kB, 5000 * kB, 2 * kB)};
    const auto st = classify_blocks(src, dst, {0, 0, 4 * kB}, kB);
    EXPECT_EQ(st, (std::vector<S>{S::AlreadyShared, S::AlreadyShared, S::Candidate, S::Candidate}));
    EXPECT_EQ(shared_bytes(src, dst, {0, 0, 4 * kB}, kB), 2 * kB);
}

TEST(BlockSharing, MappingIsComparedAtTheRightOffsetInsideExtents) {
    // dst's extent starts 1 block into src's extent, at logical offset 0: shared only when the
    // destination range is shifted by one block against the source range.
    const std::vector<Extent> src{ext(0, 1000 * kB, 8 * kB)};
    const std::vector<Extent> dst{ext(0, 1001 * kB, 4 * kB)};
    EXPECT_EQ(shared_bytes(src, dst, {0, 0, 4 * kB}, kB), 0u);
    EXPECT_EQ(shared_bytes(src, dst, {kB, 0, 4 * kB}, kB), 4 * kB);
}

TEST(BlockSharing, BlocksSpanningSeveralExtentsAreSharedWhenEveryPieceIs) {
    // 4-unit blocks over extents cut at 6: both files map [0,6) and [6,12) to the same places.
    const std::vector<Extent> src{ext(0, 1000 * kB, 6 * kB), ext(6 * kB, 3000 * kB, 6 * kB)};
    std::vector<Extent> dst{ext(0, 1000 * kB, 6 * kB), ext(6 * kB, 3000 * kB, 6 * kB)};
    const AlignedRanges r{0, 0, 12 * kB};
    EXPECT_EQ(classify_blocks(src, dst, r, 4 * kB), (std::vector<S>{S::AlreadyShared, S::AlreadyShared, S::AlreadyShared}));
    EXPECT_EQ(shared_bytes(src, dst, r, 4 * kB), 12 * kB);
    // The second extent elsewhere in dst: the block across the cut is no longer shared.
    dst[1].physical = 5000 * kB;
    EXPECT_EQ(classify_blocks(src, dst, r, 4 * kB), (std::vector<S>{S::AlreadyShared, S::Candidate, S::Candidate}));
    // Cut at different places in the two files, same disk bytes: still shared.
    const std::vector<Extent> dst2{ext(0, 1000 * kB, 2 * kB), ext(2 * kB, 1002 * kB, 4 * kB), ext(6 * kB, 3000 * kB, 6 * kB)};
    EXPECT_EQ(classify_blocks(src, dst2, r, 4 * kB), (std::vector<S>{S::AlreadyShared, S::AlreadyShared, S::AlreadyShared}));
    // A hole in the middle of a block: not shared.
    const std::vector<Extent> gap{ext(0, 1000 * kB, 5 * kB), ext(7 * kB, 3001 * kB, 5 * kB)};
    EXPECT_EQ(classify_blocks(gap, dst2, r, 4 * kB)[1], S::Candidate);
}

TEST(BlockSharing, DestinationHolesAreNotCandidates) {
    const std::vector<Extent> src{ext(0, 1000 * kB, 3 * kB)};
    const std::vector<Extent> dst{ext(kB, 7000 * kB, kB)};
    const auto st = classify_blocks(src, dst, {0, 0, 3 * kB}, kB);
    EXPECT_EQ(st, (std::vector<S>{S::DestinationHole, S::Candidate, S::DestinationHole}));
}

TEST(BlockSharing, SourceHoleOverDataIsACandidate) {
    // Zeros from a source hole may turn the destination's zero blocks into a hole.
    const std::vector<Extent> src{};
    const std::vector<Extent> dst{ext(0, 7000 * kB, kB)};
    EXPECT_EQ(classify_blocks(src, dst, {0, 0, kB}, kB), (std::vector<S>{S::Candidate}));
}

TEST(BlockSharing, PartialTailBlockCounts) {
    const std::vector<Extent> src{ext(0, 1000 * kB, 2 * kB)};
    const std::vector<Extent> dst{ext(0, 1000 * kB, 2 * kB)};
    EXPECT_EQ(shared_bytes(src, dst, {0, 0, kB + 100}, kB), kB + 100);
}

TEST(BlockSharing, InlineAndDelallocExtentsAreNeverShared) {
    Extent s = ext(0, 0, kB), d = ext(0, 0, kB);
    s.inline_data = d.inline_data = true;
    EXPECT_EQ(shared_bytes(std::vector{s}, std::vector{d}, {0, 0, 100}, kB), 0u);
    s = ext(0, 0, kB);
    d = ext(0, 0, kB);
    s.unknown = d.unknown = true;
    EXPECT_EQ(classify_blocks(std::vector{s}, std::vector{d}, {0, 0, kB}, kB),
              (std::vector<S>{S::Candidate}));
}

TEST(BlockSharing, EncodedExtentsMatchOnlyAsIdenticalReferences) {
    Extent s = ext(0, 9000 * kB, 32 * kB), d = ext(0, 9000 * kB, 32 * kB);
    s.encoded = d.encoded = true;
    EXPECT_EQ(shared_bytes(std::vector{s}, std::vector{d}, {0, 0, 32 * kB}, kB), 32 * kB);
    // Same compressed extent start but a different reference length: not provably the same bytes.
    d.length = 16 * kB;
    EXPECT_EQ(shared_bytes(std::vector{s}, std::vector{d}, {0, 0, 16 * kB}, kB), 0u);
    // One encoded, one plain: never equal addresses even if the numbers happen to match.
    d = ext(0, 9000 * kB, 32 * kB);
    EXPECT_EQ(shared_bytes(std::vector{s}, std::vector{d}, {0, 0, 32 * kB}, kB), 0u);
}

TEST(BlockSharing, BlocksSpanningTwoExtentsAreComparedPieceByPiece) {
    const std::vector<Extent> src{ext(0, 1000 * kB, 2 * kB)};
    std::vector<Extent> dst{ext(0, 1000 * kB, kB + 10), ext(kB + 10, 1001 * kB + 10, kB)};
    auto st = classify_blocks(src, dst, {0, 0, 2 * kB}, kB);
    EXPECT_EQ(st[0], S::AlreadyShared);
    EXPECT_EQ(st[1], S::AlreadyShared);  // both pieces are the source's bytes
    dst[1].physical += kB;
    st = classify_blocks(src, dst, {0, 0, 2 * kB}, kB);
    EXPECT_EQ(st[1], S::Candidate);
}

}  // namespace
}  // namespace rdd
