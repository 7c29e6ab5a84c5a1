#pragma once
// Independent checks of what the product claims: content hashes, metadata snapshots, and the
// physical extent map (FIEMAP) that shows whether two files really share storage.
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rdd::test {

// Hex SHA-256 of the file's content, computed by sha256sum (not by our own code).
[[nodiscard]] std::string sha256_file(const std::filesystem::path& path);

// Creates/truncates path with `bytes` bytes of a deterministic stream (std::mt19937_64 seeded
// with `seed`, words in host byte order), written in 1 MiB chunks, then fsync'ed. The stream
// does not depend on the size: same seed, different sizes = one file is a prefix of the other.
void write_random_file(const std::filesystem::path& path, std::uint64_t bytes, std::uint64_t seed);

struct Timestamp {
    std::int64_t sec = 0;
    std::int64_t nsec = 0;
    friend bool operator==(const Timestamp&, const Timestamp&) = default;
};

// Everything dedup must leave alone on an inode.
struct MetadataSnapshot {
    std::uint32_t mode = 0;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::uint64_t size = 0;
    std::uint64_t nlink = 0;
    std::uint64_t ino = 0;
    Timestamp mtime;
    Timestamp ctime;
    // FS_IOC_GETFLAGS; nullopt for inodes that are neither regular files nor directories.
    std::optional<std::uint32_t> inode_flags;
    std::map<std::string, std::string> xattrs;  // name -> raw value

    friend bool operator==(const MetadataSnapshot&, const MetadataSnapshot&) = default;
};

// lstat + flags + xattrs of path itself (symlinks are not followed).
[[nodiscard]] MetadataSnapshot snapshot_metadata(const std::filesystem::path& path);

std::ostream& operator<<(std::ostream& os, const MetadataSnapshot& m);
void PrintTo(const MetadataSnapshot& m, std::ostream* os);  // gtest's printer
// "mtime: 1.000000001 != 1.000000002; xattr user.a: ..." or "" when equal.
[[nodiscard]] std::string describe_differences(const MetadataSnapshot& a, const MetadataSnapshot& b);

struct PhysExtent {
    std::uint64_t logical = 0;
    std::uint64_t physical = 0;
    std::uint64_t length = 0;
    std::uint32_t flags = 0;  // FIEMAP_EXTENT_*
    friend bool operator==(const PhysExtent&, const PhysExtent&) = default;
};

// The whole extent map via FS_IOC_FIEMAP with FIEMAP_FLAG_SYNC, sorted by logical offset.
[[nodiscard]] std::vector<PhysExtent> fiemap_extents(const std::filesystem::path& path);

// Bytes of b whose logical offset maps to the same physical byte as the same offset in a.
// Extents flagged UNKNOWN, DELALLOC or DATA_INLINE never count; ENCODED (compressed) extents
// count only when logical, physical and length match exactly on both sides. The path overload
// counts file bytes: extents are clipped at the shorter file's size.
[[nodiscard]] std::uint64_t bytes_shared_with(const std::filesystem::path& a, const std::filesystem::path& b);
[[nodiscard]] std::uint64_t bytes_shared_with(const std::vector<PhysExtent>& a, const std::vector<PhysExtent>& b);

// Sets FS_NOCOW_FL (btrfs) on an empty regular file; throws if the flag did not stick.
void set_nocow(const std::filesystem::path& path);
// Sets or clears FS_IMMUTABLE_FL.
void set_immutable(const std::filesystem::path& path, bool immutable);

}  // namespace rdd::test
