#pragma once
// Who a file is, independent of its path: (subvolume, inode, inode generation). Inode numbers
// repeat across btrfs subvolumes and get reused after deletion; the generation tells a reused
// number from the file that had it before.
#include <cstdint>
#include <string>

#include "reflinkdedup/fs/filesystem.hpp"

namespace rdd {

struct FileIdentity {
    std::uint64_t subvolume = 0;   // btrfs subvolume (tree) id; 0 elsewhere
    std::uint64_t inode = 0;
    std::uint64_t generation = 0;  // FS_IOC_GETVERSION
    friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

[[nodiscard]] FileIdentity file_identity(int fd, FsType type, const std::string& path);

}  // namespace rdd
