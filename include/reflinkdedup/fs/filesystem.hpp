#pragma once
// What filesystem a file lives on, and whether it can share extents.
#include <cstdint>
#include <string>

namespace rdd {

enum class FsType { Btrfs, Xfs, Other };

struct FilesystemInfo {
    FsType type = FsType::Other;
    std::string type_name;       // "btrfs", "xfs", "ext4", "tmpfs", ... for messages
    std::string id;              // identifies the filesystem (superblock), equal across subvolumes
    std::string uuid;            // textual UUID where the kernel tells it, else empty
    bool can_share = false;      // btrfs, or XFS with reflink=1
    bool read_only = false;      // mounted read-only
    std::uint32_t block_size = 4096;
};

// Probes the filesystem holding the open file `fd` (path is for messages only).
[[nodiscard]] FilesystemInfo probe_filesystem(int fd, const std::string& path);

// "PATH: on ext4, which cannot share extents; reflinkdedup needs btrfs or XFS with reflink=1"
[[nodiscard]] std::string cannot_share_message(const std::string& path, const FilesystemInfo& fs);

// Name of a filesystem from its statfs magic number ("ext4", "tmpfs", ...), or "0x...".
[[nodiscard]] std::string fs_type_name(std::uint64_t magic);

}  // namespace rdd
