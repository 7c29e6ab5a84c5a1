#pragma once
// When sharing a file's duplicate ranges gives space back, and what has to move for it to
// (KERNEL-FACTS §10, DESIGN "Kernel facts" 5). Pure: extent lists in, decisions out.
//
// XFS counts references per block: a remapped block nothing else references is freed at once.
// btrfs frees an extent only when no block of it is referenced any more. A destination extent
// only partly covered by remapped ranges (a grown log whose old prefix and new tail were
// written as one extent; a file edited in place) stays allocated whole ("bookend"), until the
// rest of it (the remainder) is copied into a new extent and remapped onto the copy too. That
// frees the old extent at the price of writing the remainder, and only if no other file or
// snapshot references the old extent. The same move also gives back extents the file already
// references only in part (an earlier move that found no room, another tool's dedupe, a partial
// rewrite): the unreferenced part of such an extent is allocated for nothing.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "reflinkdedup/model/extent.hpp"

namespace rdd {

struct ByteRange {
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    [[nodiscard]] std::uint64_t end() const noexcept { return offset + length; }
    friend constexpr bool operator==(const ByteRange&, const ByteRange&) = default;
};

// One reference of a file to a disk extent (a btrfs EXTENT_DATA item).
struct ExtentRef {
    std::uint64_t file_offset = 0;
    std::uint64_t length = 0;      // file bytes it covers
    std::uint64_t extent = 0;      // disk address of the whole extent: its identity
    std::uint64_t disk_bytes = 0;  // allocated size of the whole extent
    std::uint64_t ram_bytes = 0;   // its uncompressed size (== disk_bytes unless compressed)
    bool movable = true;           // false for preallocated extents
    std::uint64_t extent_offset = 0;  // where in the extent's (uncompressed) data this reference starts
};

// Who else references an extent (btrfs LOGICAL_INO).
enum class ExtentOwners : std::uint8_t {
    ThisFile,          // only the file being planned
    OtherFiles,        // other inodes or subvolumes (reflink copies, writable snapshots)
    ReadOnlySnapshot,  // a read-only snapshot: the extent stays allocated whatever we do
};
using OwnersLookup = std::function<ExtentOwners(std::uint64_t extent)>;

enum class ExtentFate : std::uint8_t {
    Freed,           // every reference to it is remapped
    FreedByMove,     // the remainder moves to a new extent first, then it is freed
    NotWorthMoving,  // the move would write more than the policy allows per byte it frees
    NotMovable,      // the remainder cannot be moved (preallocated, or moves are off)
    Shared,          // other files reference it: nothing is freed
    HeldBySnapshot,  // a read-only snapshot references it: nothing is freed
};

struct ReleasePolicy {
    std::uint64_t block_size = 4096;  // the filesystem's allocation unit
    bool moves = true;
    // A move may write at most this many bytes per byte it gives back (freed minus written).
    double max_write_per_freed = 2.0;
};

// A file range to move, and where its bytes lie in the extent: file ranges that share bytes of
// the extent (an intra-file dedupe) must share the one copy of them after the move too.
struct MovePiece {
    std::uint64_t file_offset = 0;
    std::uint64_t extent_offset = 0;
    std::uint64_t length = 0;
    friend constexpr bool operator==(const MovePiece&, const MovePiece&) = default;
};

struct ExtentRelease {
    std::uint64_t extent = 0;
    std::uint64_t disk_bytes = 0;
    ExtentFate fate = ExtentFate::Freed;
    std::vector<ByteRange> remainder;  // file ranges still on the extent after the remaps
    std::vector<MovePiece> pieces;     // the remainder, piece by piece, in file order
    std::uint64_t write_bytes = 0;     // what moving the remainder would allocate (estimate): the
                                       // extent bytes it uses once, zeros left out
    std::uint64_t freed_bytes = 0;     // net: disk_bytes, or disk_bytes - write_bytes for a move
    std::uint64_t held_bytes = 0;      // HeldBySnapshot: what it would free otherwise
    friend bool operator==(const ExtentRelease&, const ExtentRelease&) = default;
};

// Sorts by offset and merges overlapping or adjacent ranges; drops empty ones.
[[nodiscard]] std::vector<ByteRange> normalized(std::vector<ByteRange> ranges);

// `a` without `b` (both normalized).
[[nodiscard]] std::vector<ByteRange> subtract(std::span<const ByteRange> a, std::span<const ByteRange> b);

// The extents (sorted, unique) of `refs` that `remapped` touches.
[[nodiscard]] std::vector<std::uint64_t> touched_extents(std::span<const ExtentRef> refs,
                                                         std::span<const ByteRange> remapped);

// The extents (sorted, unique) of which `refs` use only a part: the rest is allocated for nothing
// (unless other files use it).
[[nodiscard]] std::vector<std::uint64_t> partly_used_extents(std::span<const ExtentRef> refs);

// One decision per touched extent, and one per partly used extent that moving its references
// would give back (fate FreedByMove), in extent order. `remapped`: file ranges the plan makes
// share other data (normalized). `zeros`: ranges known to hold only zeros (normalized); a move
// leaves them as holes, so they cost nothing to move. `owners` is asked once per extent where
// it decides.
[[nodiscard]] std::vector<ExtentRelease> plan_extent_release(std::span<const ExtentRef> refs,
                                                             std::span<const ByteRange> remapped,
                                                             std::span<const ByteRange> zeros,
                                                             const OwnersLookup& owners,
                                                             const ReleasePolicy& policy);

// XFS: bytes freed by remapping `remapped` (normalized) of a file with these FIEMAP extents:
// whole allocation blocks (a partial block at EOF counts whole) of extents not reported shared,
// preallocated (unwritten) ones included.
[[nodiscard]] std::uint64_t blocks_released(std::span<const Extent> extents,
                                            std::span<const ByteRange> remapped,
                                            std::uint64_t block_size);

}  // namespace rdd
