#pragma once
// Subvolumes through libbtrfsutil: which ones lie at and below a path, their ids, generations,
// read-only flags and UUIDs (a snapshot names its source in parent_uuid). Read-only snapshots
// matter: a dedupe through an O_RDONLY fd would modify them (KERNEL-FACTS §4).
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rdd::btrfs {

using Uuid = std::array<std::uint8_t, 16>;

[[nodiscard]] bool is_nil(const Uuid& uuid) noexcept;
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; "-" for the nil UUID, as btrfs-progs prints it.
[[nodiscard]] std::string to_string(const Uuid& uuid);

struct SubvolumeInfo {
    std::uint64_t id = 0;
    std::uint64_t parent_id = 0;  // subvolume containing this one; 0 for the top level (id 5)
    std::uint64_t dir_id = 0;     // directory inode it sits in, inside the parent
    std::string relative_path;    // to the listed path: "." for the subvolume at that path
    std::filesystem::path absolute_path;
    bool read_only = false;
    std::uint64_t generation = 0;  // last committed transaction that changed this subvolume
    std::uint64_t ctransid = 0;    // last transaction that changed one of its inodes
    std::uint64_t otransid = 0;    // transaction that created it
    Uuid uuid{};
    Uuid parent_uuid{};  // source of a snapshot; nil otherwise
    Uuid received_uuid{};

    [[nodiscard]] bool is_snapshot() const noexcept { return !is_nil(parent_uuid); }
};

// The subvolume whose root directory is `path` (NotSubvolumeError otherwise, NotBtrfsError off
// btrfs). Needs root (NeedsRootError) for subvolumes other than the one of the mount.
[[nodiscard]] SubvolumeInfo subvolume_at(const std::filesystem::path& path);

// The subvolume containing `path` (a directory), then every subvolume below `path`, parents
// before children. relative_path is relative to `path`. Needs root.
[[nodiscard]] std::vector<SubvolumeInfo> list_subvolumes(const std::filesystem::path& path);

// Whether subvolume `id` still exists on the filesystem of `fd`: false once it is deleted, also
// while the cleaner has not yet freed it (it has no parent then). Needs root.
[[nodiscard]] bool subvolume_exists(int fd, std::uint64_t id, const std::string& path);

// Whether the open directory `fd` is the root of a btrfs subvolume (inode 256).
[[nodiscard]] bool is_subvolume_root(int fd, const std::string& path);

// The generation of the subvolume `fd` is in (any file or directory in it), with
// BTRFS_IOC_GET_SUBVOL_INFO: unprivileged. Changes of the running transaction are newer.
[[nodiscard]] std::uint64_t subvolume_generation(int fd, const std::string& path);

// Commits the running transaction (BTRFS_IOC_SYNC), so everything written before the call is in
// a transaction <= the generation read afterwards, extents included (no delayed allocation left).
void commit_transaction(int fd, const std::string& path);

// commit_transaction, then subvolume_generation: the G to record for the next incremental scan.
[[nodiscard]] std::uint64_t committed_generation(int fd, const std::string& path);

}  // namespace rdd::btrfs
