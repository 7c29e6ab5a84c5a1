#pragma once
// Values the catalog stores and returns. Plain data, no SQLite in sight.
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>

namespace rdd::catalog {

// A 128-bit XXH3 digest: hi/lo are XXH128_hash_t's high64/low64. Stored as 16 big-endian bytes,
// so the catalog's "digest order" is the numeric order of (hi, lo).
struct Digest {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;

    friend constexpr auto operator<=>(const Digest&, const Digest&) = default;

    [[nodiscard]] std::array<unsigned char, 16> bytes() const noexcept;
    [[nodiscard]] static Digest from_bytes(const unsigned char* bytes16) noexcept;
};

using FileId = std::int64_t;
using VolumeId = std::int64_t;
// A scan pass number, increasing for the life of the catalog. 0 = never.
using Epoch = std::int64_t;

// A file is an inode, never a path: hard links are one file, a rename changes only `path`,
// a reused inode number with a new generation is another file. subvol is the btrfs subvolume
// id (0 on filesystems without subvolumes); the filesystem is the catalog itself.
struct FileIdentity {
    std::uint64_t subvol = 0;
    std::uint64_t ino = 0;
    std::uint64_t generation = 0;

    friend constexpr bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

enum class FileState : std::int32_t {
    pending = 0,     // metadata recorded, content not hashed (yet)
    hashed = 1,      // blocks and content digest are current
    busy_retry = 2,  // in write use when scanned: retry next run
    failed = 3,      // could not be read (see the scanner's log)
    nocow = 4,       // hashed, but a btrfs NOCOW file: its extents cannot be shared with COW files
};

// What the scanner writes for a file.
struct FileRecord {
    FileIdentity identity;
    VolumeId volume = 0;  // the scan root that saw it last
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    std::optional<Digest> content_digest;  // digest of the whole content, when hashed
    std::string path;                      // for display only, relative or absolute
    FileState state = FileState::pending;
};

// A file as stored.
struct FileRow : FileRecord {
    FileId id = 0;
    Epoch seen_epoch = 0;    // last pass that saw the inode
    Epoch hashed_epoch = 0;  // pass that last (re)wrote its blocks
};

// One block of a file. Zero blocks (all bytes 0) are stored as runs, without digest or
// physical address; on reading, digest and physical are 0 for them.
struct Block {
    std::uint64_t index = 0;     // logical block number within the file
    Digest digest;
    std::uint64_t physical = 0;  // physical byte address, 0 = unknown
    bool zero = false;

    friend constexpr bool operator==(const Block&, const Block&) = default;
};

struct ZeroRun {
    std::uint64_t first = 0;
    std::uint64_t count = 0;

    friend constexpr bool operator==(const ZeroRun&, const ZeroRun&) = default;
};

// Where a duplicated block digest occurs.
struct BlockOccurrence {
    FileId file = 0;
    std::uint64_t index = 0;
    std::uint64_t physical = 0;

    friend constexpr auto operator<=>(const BlockOccurrence&, const BlockOccurrence&) = default;
};

enum class ScanState : std::int32_t { never = 0, scanning = 1, complete = 2, interrupted = 3 };

// A scan root: a btrfs subvolume (subvol_id != 0) or a directory root (subvol_id == 0).
struct Volume {
    VolumeId id = 0;
    std::uint64_t subvol_id = 0;
    std::string path;
    std::uint64_t last_generation = 0;  // btrfs generation recorded by the last complete scan
    ScanState scan_state = ScanState::never;
    Epoch last_epoch = 0;
};

}  // namespace rdd::catalog
