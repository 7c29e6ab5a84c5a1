// What remapping a file's duplicate ranges frees: whole extents on btrfs (with remainders moved
// out of partly covered extents), blocks on XFS.
#include "reflinkdedup/plan/extent_release.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "extent_builder.hpp"

namespace rdd {
namespace {

constexpr std::uint64_t kB = 4096;
constexpr std::uint64_t kMiB = 1 << 20;
using F = ExtentFate;

ExtentRef ref(std::uint64_t offset, std::uint64_t length, std::uint64_t extent, std::uint64_t disk_bytes) {
    return {offset, length, extent, disk_bytes, disk_bytes, true};
}

const OwnersLookup kOnlyThisFile = [](std::uint64_t) { return ExtentOwners::ThisFile; };

std::vector<ExtentRelease> plan(const std::vector<ExtentRef>& refs, const std::vector<ByteRange>& remapped,
                                const std::vector<ByteRange>& zeros = {}, const OwnersLookup& owners = kOnlyThisFile,
                                const ReleasePolicy& policy = {}) {
    return plan_extent_release(refs, normalized(remapped), normalized(zeros), owners, policy);
}

TEST(Ranges, NormalizedMergesOverlapsAndNeighbours) {
    EXPECT_EQ(normalized({{10, 5}, {0, 4}, {4, 2}, {12, 10}, {30, 0}}), (std::vector<ByteRange>{{0, 6}, {10, 12}}));
    EXPECT_TRUE(normalized({{7, 0}}).empty());
}

TEST(Ranges, SubtractLeavesTheGaps) {
    const std::vector<ByteRange> a{{0, 100}, {200, 50}};
    const std::vector<ByteRange> b{{10, 10}, {90, 120}, {240, 100}};
    EXPECT_EQ(subtract(a, b), (std::vector<ByteRange>{{0, 10}, {20, 70}, {210, 30}}));
    EXPECT_EQ(subtract(a, {}), a);
    EXPECT_TRUE(subtract({}, b).empty());
}

// Random ranges against a bitmap.
TEST(Ranges, SubtractMatchesABitmap) {
    std::mt19937_64 rng(11);
    for (int round = 0; round < 500; ++round) {
        auto random_ranges = [&] {
            std::vector<ByteRange> v;
            for (std::uint64_t i = rng() % 6; i > 0; --i) v.push_back({rng() % 60, rng() % 15});
            return normalized(v);
        };
        const auto a = random_ranges(), b = random_ranges();
        std::set<std::uint64_t> want;
        for (const auto& r : a) for (std::uint64_t p = r.offset; p < r.end(); ++p) want.insert(p);
        for (const auto& r : b) for (std::uint64_t p = r.offset; p < r.end(); ++p) want.erase(p);
        std::set<std::uint64_t> got;
        const auto diff = subtract(a, b);
        for (const auto& r : diff) for (std::uint64_t p = r.offset; p < r.end(); ++p) got.insert(p);
        EXPECT_EQ(got, want);
        EXPECT_EQ(normalized(diff), diff);
    }
}

TEST(ExtentRelease, AWhollyRemappedExtentIsFreed) {
    const auto r = plan({ref(0, 4 * kMiB, 1000 * kMiB, 4 * kMiB)}, {{0, 4 * kMiB}});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].fate, F::Freed);
    EXPECT_EQ(r[0].freed_bytes, 4 * kMiB);
    EXPECT_EQ(r[0].write_bytes, 0u);
    EXPECT_TRUE(r[0].remainder.empty());
}

// KERNEL-FACTS §5: the 64 MiB prefix of a 72 MiB single-extent file.
TEST(ExtentRelease, AGrownLogMovesItsTailAndFreesTheOldExtent) {
    const auto r = plan({ref(0, 72 * kMiB, 5000 * kMiB, 72 * kMiB)}, {{0, 64 * kMiB}});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].fate, F::FreedByMove);
    EXPECT_EQ(r[0].remainder, (std::vector<ByteRange>{{64 * kMiB, 8 * kMiB}}));
    EXPECT_EQ(r[0].write_bytes, 8 * kMiB);
    EXPECT_EQ(r[0].freed_bytes, 64 * kMiB);
}

TEST(ExtentRelease, APartialBlockAtEndOfFileCostsAWholeBlock) {
    const std::uint64_t size = 16 * kB + 1000;
    const auto r = plan({ref(0, size, 7 * kMiB, 17 * kB)}, {{0, 16 * kB}});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].remainder, (std::vector<ByteRange>{{16 * kB, 1000}}));
    EXPECT_EQ(r[0].write_bytes, kB);
    EXPECT_EQ(r[0].freed_bytes, 16 * kB);
}

TEST(ExtentRelease, AnEditInPlaceMovesOnlyTheChangedBlocks) {
    // One 1 MiB extent; blocks 10 and 100..101 changed: everything else remapped.
    const auto r = plan({ref(0, 256 * kB, 9 * kMiB, 256 * kB)},
                        {{0, 10 * kB}, {11 * kB, 89 * kB}, {102 * kB, 154 * kB}});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].fate, F::FreedByMove);
    EXPECT_EQ(r[0].remainder, (std::vector<ByteRange>{{10 * kB, kB}, {100 * kB, 2 * kB}}));
    EXPECT_EQ(r[0].write_bytes, 3 * kB);
    EXPECT_EQ(r[0].freed_bytes, 253 * kB);
}

TEST(ExtentRelease, MovesAreWeighedAgainstWhatTheyFree) {
    const std::vector<ExtentRef> refs{ref(0, 100 * kB, kMiB, 100 * kB)};
    // 34 of 100 blocks remapped: moving 66 frees 34, less than 1 per 2 written.
    EXPECT_EQ(plan(refs, {{0, 33 * kB}})[0].fate, F::NotWorthMoving);
    EXPECT_EQ(plan(refs, {{0, 33 * kB}})[0].freed_bytes, 0u);
    EXPECT_EQ(plan(refs, {{0, 34 * kB}})[0].fate, F::FreedByMove);  // 66 <= 2 * 34
    ReleasePolicy strict;
    strict.max_write_per_freed = 0.5;
    EXPECT_EQ(plan(refs, {{0, 66 * kB}}, {}, kOnlyThisFile, strict)[0].fate, F::NotWorthMoving);  // 34 > 33
    EXPECT_EQ(plan(refs, {{0, 67 * kB}}, {}, kOnlyThisFile, strict)[0].fate, F::FreedByMove);    // 33 <= 33.5
    ReleasePolicy off;
    off.moves = false;
    const auto r = plan(refs, {{0, 99 * kB}}, {}, kOnlyThisFile, off);
    EXPECT_EQ(r[0].fate, F::NotMovable);
    EXPECT_EQ(r[0].freed_bytes, 0u);
    // Moves off: a wholly remapped extent is still freed.
    EXPECT_EQ(plan(refs, {{0, 100 * kB}}, {}, kOnlyThisFile, off)[0].fate, F::Freed);
}

TEST(ExtentRelease, PreallocatedExtentsAreNotMoved) {
    ExtentRef prealloc = ref(0, 64 * kB, 3 * kMiB, 64 * kB);
    prealloc.movable = false;
    EXPECT_EQ(plan({prealloc}, {{0, 60 * kB}})[0].fate, F::NotMovable);
    EXPECT_EQ(plan({prealloc}, {{0, 64 * kB}})[0].fate, F::Freed);
}

TEST(ExtentRelease, OtherOwnersKeepTheExtent) {
    const std::vector<ExtentRef> refs{ref(0, 72 * kMiB, 5000 * kMiB, 72 * kMiB)};
    const OwnersLookup shared = [](std::uint64_t) { return ExtentOwners::OtherFiles; };
    const OwnersLookup snapshot = [](std::uint64_t) { return ExtentOwners::ReadOnlySnapshot; };
    auto r = plan(refs, {{0, 64 * kMiB}}, {}, shared);
    EXPECT_EQ(r[0].fate, F::Shared);
    EXPECT_EQ(r[0].freed_bytes, 0u);
    EXPECT_EQ(r[0].held_bytes, 0u);
    r = plan(refs, {{0, 64 * kMiB}}, {}, snapshot);
    EXPECT_EQ(r[0].fate, F::HeldBySnapshot);
    EXPECT_EQ(r[0].freed_bytes, 0u);
    EXPECT_EQ(r[0].held_bytes, 64 * kMiB);
    r = plan(refs, {{0, 72 * kMiB}}, {}, snapshot);
    EXPECT_EQ(r[0].held_bytes, 72 * kMiB);
}

TEST(ExtentRelease, OwnersAreAskedOnlyWhereTheyDecide) {
    std::vector<std::uint64_t> asked;
    const OwnersLookup spy = [&](std::uint64_t e) {
        asked.push_back(e);
        return ExtentOwners::ThisFile;
    };
    // Extent 1: untouched. Extent 2: not worth moving. Extent 3: freed. Extent 4: moved.
    const std::vector<ExtentRef> refs{ref(0, 64 * kB, 1, 64 * kB), ref(64 * kB, 64 * kB, 2, 64 * kB),
                                      ref(128 * kB, 64 * kB, 3, 64 * kB), ref(192 * kB, 64 * kB, 4, 64 * kB)};
    const auto r = plan(refs, {{64 * kB, 4 * kB}, {128 * kB, 124 * kB}}, {}, spy);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].fate, F::NotWorthMoving);
    EXPECT_EQ(r[1].fate, F::Freed);
    EXPECT_EQ(r[2].fate, F::FreedByMove);
    EXPECT_EQ(asked, (std::vector<std::uint64_t>{3, 4}));
    EXPECT_EQ(touched_extents(refs, normalized({{64 * kB, 4 * kB}, {128 * kB, 124 * kB}})),
              (std::vector<std::uint64_t>{2, 3, 4}));
}

TEST(ExtentRelease, SeveralReferencesToOneExtentAreOneDecision) {
    // The file references the first half of extent 50 twice (an earlier intra-file dedupe) and
    // the second half once; remapping the second half alone leaves the first half to move.
    ExtentRef second_half = ref(64 * kB, 32 * kB, 50, 64 * kB);
    second_half.extent_offset = 32 * kB;
    const std::vector<ExtentRef> refs{ref(0, 32 * kB, 50, 64 * kB), ref(32 * kB, 32 * kB, 50, 64 * kB), second_half};
    auto r = plan(refs, {{32 * kB, 32 * kB}});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].remainder, (std::vector<ByteRange>{{0, 32 * kB}, {64 * kB, 32 * kB}}));
    EXPECT_EQ(r[0].fate, F::NotWorthMoving);  // 64 KiB written to free nothing
    EXPECT_EQ(r[0].pieces, (std::vector<MovePiece>{{0, 0, 32 * kB}, {64 * kB, 32 * kB, 32 * kB}}));
    r = plan(refs, {{0, 64 * kB}});
    EXPECT_EQ(r[0].remainder, (std::vector<ByteRange>{{64 * kB, 32 * kB}}));
    EXPECT_EQ(r[0].fate, F::FreedByMove);
    EXPECT_EQ(r[0].freed_bytes, 32 * kB);
}

TEST(ExtentRelease, RangesSharingExtentBytesAreMovedAsOneCopy) {
    // Two file ranges use the same first 32 KiB of a 96 KiB extent (an earlier intra-file
    // dedupe); the rest of the extent is used by nothing. Moving both writes 32 KiB, not 64.
    const std::vector<ExtentRef> refs{ref(0, 32 * kB, 9, 96 * kB), ref(100 * kB, 32 * kB, 9, 96 * kB)};
    const auto r = plan(refs, {});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].fate, F::FreedByMove);
    EXPECT_EQ(r[0].write_bytes, 32 * kB);
    EXPECT_EQ(r[0].freed_bytes, 64 * kB);
    EXPECT_EQ(r[0].pieces, (std::vector<MovePiece>{{0, 0, 32 * kB}, {100 * kB, 0, 32 * kB}}));
}

TEST(ExtentRelease, ZerosMoveForFree) {
    // The remainder is mostly zeros: the copy leaves them as holes.
    const auto r = plan({ref(0, 256 * kB, 77, 256 * kB)}, {{0, 128 * kB}}, {{132 * kB, 124 * kB}});
    EXPECT_EQ(r[0].fate, F::FreedByMove);
    EXPECT_EQ(r[0].write_bytes, 4 * kB);
    EXPECT_EQ(r[0].freed_bytes, 252 * kB);
}

TEST(ExtentRelease, CompressedExtentsAreCostedAtTheirRatio) {
    // 128 KiB of data in a 32 KiB compressed extent; half of it moves: about 16 KiB.
    const ExtentRef c{0, 128 * kB, 900 * kMiB, 32 * kB, 128 * kB, true};
    const auto r = plan({c}, {{0, 64 * kB}});
    EXPECT_EQ(r[0].fate, F::FreedByMove);
    EXPECT_EQ(r[0].write_bytes, 16 * kB);
    EXPECT_EQ(r[0].freed_bytes, 16 * kB);
}

TEST(ExtentRelease, AnExtentReferencedPartlyFreesItsWholeSize) {
    // The file references only 40 KiB of a 128 KiB extent (bookend waste from an old rewrite):
    // remapping those 40 KiB frees all 128.
    const ExtentRef part{0, 40 * kB, 66, 128 * kB, 128 * kB, true};
    const auto r = plan({part}, {{0, 40 * kB}});
    EXPECT_EQ(r[0].fate, F::Freed);
    EXPECT_EQ(r[0].freed_bytes, 128 * kB);
}

TEST(ExtentRelease, ExtentsUsedOnlyInPartAreGivenBackByMovingTheUsedPart) {
    // An earlier run shared the 40 MiB prefix but found no room to move the 20 MiB tail: the
    // file still holds 20 MiB at offset 40 MiB of its old 60 MiB extent.
    ExtentRef tail = ref(40 * kMiB, 20 * kMiB, 777 * kMiB, 60 * kMiB);
    tail.extent_offset = 40 * kMiB;
    const std::vector<ExtentRef> refs{ref(0, 40 * kMiB, 111 * kMiB, 40 * kMiB), tail};
    EXPECT_EQ(partly_used_extents(refs), (std::vector<std::uint64_t>{777 * kMiB}));
    auto r = plan(refs, {});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].extent, 777 * kMiB);
    EXPECT_EQ(r[0].fate, F::FreedByMove);
    EXPECT_EQ(r[0].remainder, (std::vector<ByteRange>{{40 * kMiB, 20 * kMiB}}));
    EXPECT_EQ(r[0].freed_bytes, 40 * kMiB);
    // Not worth it, or used by others: nothing to report (nothing is remapped there).
    tail.extent_offset = 10 * kMiB;
    tail.length = 45 * kMiB;
    EXPECT_TRUE(plan({tail}, {}).empty());
    const OwnersLookup shared = [](std::uint64_t) { return ExtentOwners::OtherFiles; };
    EXPECT_TRUE(plan({refs[0], ref(40 * kMiB, 20 * kMiB, 777 * kMiB, 60 * kMiB)}, {}, {}, shared).empty());
    // Two references to the same part cover it once.
    ExtentRef twice = ref(0, 32 * kB, 5, 64 * kB);
    ExtentRef again = twice;
    again.file_offset = 32 * kB;
    EXPECT_EQ(partly_used_extents(std::vector<ExtentRef>{twice, again}), (std::vector<std::uint64_t>{5}));
    again.extent_offset = 32 * kB;
    EXPECT_TRUE(partly_used_extents(std::vector<ExtentRef>{twice, again}).empty());
}

// Random files against a block-by-block model of the same rules.
TEST(ExtentRelease, RandomLayoutsMatchABlockModel) {
    std::mt19937_64 rng(5);
    for (int round = 0; round < 2000; ++round) {
        const std::uint64_t blocks = 1 + rng() % 40;
        std::vector<ExtentRef> refs;
        std::map<std::uint64_t, std::uint64_t> size_of, next;  // extent -> size, next unused offset
        for (std::uint64_t b = 0; b < blocks;) {
            const std::uint64_t n = std::min<std::uint64_t>(blocks - b, 1 + rng() % 12);
            const std::uint64_t extent = 1 + rng() % 5;
            ExtentRef r = ref(b * kB, n * kB, extent, 0);
            r.extent_offset = next[extent];  // references of one extent use distinct bytes of it
            next[extent] += n * kB;
            size_of[extent] = next[extent] + (rng() % 4) * kB;
            refs.push_back(r);
            b += n;
        }
        for (auto& r : refs) r.disk_bytes = r.ram_bytes = size_of[r.extent];
        std::vector<bool> remapped(blocks);
        std::vector<ByteRange> ranges;
        for (std::uint64_t b = 0; b < blocks; ++b) {
            remapped[b] = rng() % 3 != 0;
            if (remapped[b]) ranges.push_back({b * kB, kB});
        }
        const auto owner_of = [](std::uint64_t e) { return e == 5 ? ExtentOwners::ReadOnlySnapshot : ExtentOwners::ThisFile; };
        const auto got = plan(refs, ranges, {}, owner_of);
        // Model: per extent, blocks referencing it, and how many of those are not remapped.
        std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> model;  // extent -> (remapped, kept)
        std::map<std::uint64_t, std::uint64_t> used;  // extent -> bytes used
        for (const auto& r : refs) {
            for (std::uint64_t b = r.file_offset / kB; b < (r.file_offset + r.length) / kB; ++b) {
                (remapped[b] ? model[r.extent].first : model[r.extent].second) += 1;
            }
            used[r.extent] += r.length;
        }
        std::size_t i = 0;
        for (const auto& [extent, counts] : model) {
            if (counts.first == 0) {
                // Untouched: listed only when its unused part is worth moving the rest for.
                const std::uint64_t disk = size_of[extent], write = counts.second * kB;
                if (used[extent] < disk && extent != 5 && write < disk && write <= 2 * (disk - write)) {
                    ASSERT_LT(i, got.size());
                    EXPECT_EQ(got[i].extent, extent);
                    EXPECT_EQ(got[i].fate, F::FreedByMove);
                    EXPECT_EQ(got[i++].freed_bytes, disk - write);
                }
                continue;
            }
            ASSERT_LT(i, got.size());
            const ExtentRelease& x = got[i++];
            ASSERT_EQ(x.extent, extent);
            const std::uint64_t disk = size_of[extent], write = counts.second * kB;
            std::uint64_t remainder = 0;
            for (const auto& r : x.remainder) remainder += r.length;
            EXPECT_EQ(remainder, write);
            const bool movable = write == 0 || (write < disk && write <= 2 * (disk - write));
            const std::uint64_t gain = movable ? disk - write : 0;
            EXPECT_EQ(x.freed_bytes, extent == 5 ? 0 : gain) << "extent " << extent;
            EXPECT_EQ(x.held_bytes, extent == 5 ? gain : 0) << "extent " << extent;
        }
        EXPECT_EQ(i, got.size());
    }
}

TEST(BlocksReleased, CountsUnsharedAllocatedBlocks) {
    using test::ext;
    std::vector<Extent> e{ext(0, kMiB, 8 * kB), ext(8 * kB, 2 * kMiB, 8 * kB), ext(24 * kB, 3 * kMiB, 8 * kB)};
    e[1].shared = true;  // another file references these blocks
    // [0, 32 KiB): 8 unshared + 8 shared + a 8 KiB hole + 8 unshared.
    EXPECT_EQ(blocks_released(e, std::vector<ByteRange>{{0, 32 * kB}}, kB), 16 * kB);
    EXPECT_EQ(blocks_released(e, std::vector<ByteRange>{{kB, kB}, {26 * kB, 1000}}, kB), 2 * kB);  // EOF block whole
    e[2].unwritten = true;  // preallocated: allocated all the same
    EXPECT_EQ(blocks_released(e, std::vector<ByteRange>{{0, 32 * kB}}, kB), 16 * kB);
    e[2].unknown = true;  // delalloc: no address known
    EXPECT_EQ(blocks_released(e, std::vector<ByteRange>{{0, 32 * kB}}, kB), 8 * kB);
}

}  // namespace
}  // namespace rdd
