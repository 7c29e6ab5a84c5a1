#include "reflinkdedup/scan/block_places.hpp"

#include <gtest/gtest.h>

#include "extent_builder.hpp"

namespace rdd {
namespace {

constexpr std::uint64_t kB = 4096;

using test::ext;

TEST(HoleBlocks, GapsBetweenExtentsAndAtTheEnd) {
    // Blocks of 2*kB: data [0,kB), hole [kB, 6kB), data [6kB, 8kB), hole to EOF at 13kB.
    const std::vector<Extent> e{ext(0, 100 * kB, kB), ext(6 * kB, 200 * kB, 2 * kB)};
    // Block 0 [0,2k) has data; blocks 1,2 [2k,6k) are holes; block 3 [6k,8k) data;
    // blocks 4,5 [8k,12k) holes; block 6 [12k,13k) is the partial last block, in the hole.
    EXPECT_EQ(hole_blocks(e, 13 * kB, 2 * kB), (std::vector<BlockSpan>{{1, 2}, {4, 3}}));
}

TEST(HoleBlocks, AWholeSparseFileAndAFileWithoutHoles) {
    EXPECT_EQ(hole_blocks({}, 1 << 30, 65536), (std::vector<BlockSpan>{{0, 16384}}));
    const std::vector<Extent> e{ext(0, 8 * kB, 10 * kB)};
    EXPECT_TRUE(hole_blocks(e, 10 * kB, kB).empty());
    EXPECT_TRUE(hole_blocks({}, 0, kB).empty());
}

TEST(HoleBlocks, PartiallyCoveredBlocksAreNotHoles) {
    const std::vector<Extent> e{ext(kB, 50 * kB, kB)};
    // Block size 4kB: the only block has data in its second quarter.
    EXPECT_TRUE(hole_blocks(e, 4 * kB, 4 * kB).empty());
}

TEST(BlockAddresses, LinearInsidePlainExtentsUnknownElsewhere) {
    Extent compressed = ext(4 * kB, 900 * kB, 4 * kB);
    compressed.encoded = true;
    Extent prealloc = ext(8 * kB, 700 * kB, 2 * kB);
    prealloc.unwritten = true;
    const std::vector<Extent> e{ext(0, 100 * kB, 3 * kB), compressed, prealloc};
    BlockAddresses a(e, 11 * kB, kB);
    EXPECT_EQ(a.physical(0), 100 * kB);
    EXPECT_EQ(a.physical(2), 102 * kB);
    EXPECT_EQ(a.physical(3), 0u);  // hole
    EXPECT_EQ(a.physical(4), 0u);  // compressed: not linear
    EXPECT_EQ(a.physical(8), 0u);  // unwritten
    EXPECT_EQ(a.physical(10), 0u); // past the extents
}

TEST(BlockAddresses, PartialLastBlockNeedsOnlyItsBytesCovered) {
    const std::vector<Extent> e{ext(0, 100 * kB, 2 * kB)};
    BlockAddresses a(e, kB + 100, kB);
    EXPECT_EQ(a.physical(1), 101 * kB);
    BlockAddresses b(e, 3 * kB + 100, 2 * kB);
    EXPECT_EQ(b.physical(0), 100 * kB);
    EXPECT_EQ(b.physical(1), 0u);  // spans past the extent
}

}  // namespace
}  // namespace rdd
