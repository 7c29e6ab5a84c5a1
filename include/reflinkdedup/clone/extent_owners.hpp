#pragma once
// btrfs: who references a data extent. Moving a file's remainder out of a partly shared extent
// frees the extent only if nothing else references it; a read-only snapshot that does keeps it
// allocated whatever we do (and is never modified). BTRFS_IOC_LOGICAL_INO_V2 with
// IGNORE_OFFSET lists every reference (inode, file offset, subvolume), not only those covering
// one block; it needs CAP_SYS_ADMIN.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "reflinkdedup/plan/extent_release.hpp"

namespace rdd {

struct ExtentReference {
    std::uint64_t ino = 0;
    std::uint64_t offset = 0;  // file offset of the referencing item
    std::uint64_t root = 0;    // subvolume id
    friend constexpr bool operator==(const ExtentReference&, const ExtentReference&) = default;
};

// Parses the struct btrfs_data_container LOGICAL_INO fills: (ino, offset, root) triples.
// `missing` receives bytes_missing (the buffer was too small when > 0). Throws
// std::runtime_error when the counts run past the buffer.
[[nodiscard]] std::vector<ExtentReference> parse_logical_ino(std::span<const std::byte> container,
                                                             std::uint32_t& missing);

// Every reference to the extent at disk address `extent` (its disk_bytenr), through any fd on
// the filesystem. Throws SysError (EPERM without CAP_SYS_ADMIN, ENOENT when no extent starts
// there any more).
[[nodiscard]] std::vector<ExtentReference> extent_references(int fd, std::uint64_t extent,
                                                             const std::string& path);

// Whether any reference lies outside inode `ino` of subvolume `root`, and whether one of
// those is in a subvolume `read_only` says is read-only.
[[nodiscard]] ExtentOwners classify_owners(std::span<const ExtentReference> refs, std::uint64_t root,
                                           std::uint64_t ino,
                                           const std::function<bool(std::uint64_t root)>& read_only);

// Remembers which subvolumes are read-only (libbtrfsutil, by id; needs root). A subvolume that
// cannot be looked up (being deleted) counts as not read-only: it still keeps the extent, as
// OtherFiles.
class ReadOnlyRoots {
public:
    ReadOnlyRoots(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    [[nodiscard]] bool operator()(std::uint64_t root);

private:
    int fd_;
    std::string path_;
    std::map<std::uint64_t, bool> known_;
};

}  // namespace rdd
