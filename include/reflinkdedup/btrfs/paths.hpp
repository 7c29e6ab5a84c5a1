#pragma once
// From inode numbers back to names, for display and exclude patterns (identity is (subvolume,
// ino, generation); paths are never keys). All paths are relative to the subvolume root.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "reflinkdedup/btrfs/items.hpp"

namespace rdd::btrfs {

// BTRFS_IOC_INO_LOOKUP: the subvolume id of the fd's subvolume. Unprivileged.
[[nodiscard]] std::uint64_t subvolume_id(int fd, const std::string& path);

// BTRFS_IOC_INO_LOOKUP of directory `dir_ino` in the fd's subvolume: "a/b/" (the kernel's
// trailing slash kept), "" for the subvolume root. Needs root for any inode but 256.
[[nodiscard]] std::string directory_path(int fd, std::uint64_t dir_ino, const std::string& path);

// Every hard link of `ino` ("dir/name"), in the kernel's order; "." for the subvolume root,
// empty for an inode with no links left. BTRFS_IOC_INO_PATHS answers at most 4 KiB of names;
// beyond that the names are read from the INODE_REF/INODE_EXTREF items instead. Needs root.
[[nodiscard]] std::vector<std::string> inode_paths(int fd, std::uint64_t ino,
                                                   const std::string& path);

// The first name in the first INODE_REF of `ino` (lowest parent directory inode); nullopt when
// it has none. Needs root.
[[nodiscard]] std::optional<InodeName> first_inode_ref(int fd, std::uint64_t ino,
                                                       const std::string& path);

// The name `btrfs subvolume find-new` prints for `ino`: first_inode_ref's name joined to its
// directory's path; nullopt when it has no INODE_REF. Needs root.
[[nodiscard]] std::optional<std::string> first_link_path(int fd, std::uint64_t ino,
                                                         const std::string& path);

// What BTRFS_IOC_INO_PATHS put in its struct btrfs_data_container: the paths, and how many did
// not fit. Throws MalformedItemError when a count, offset or string runs past `container`.
struct InoPathsResult {
    std::vector<std::string> paths;
    std::uint32_t missed = 0;
};
[[nodiscard]] InoPathsResult parse_ino_paths(std::span<const std::byte> container);

}  // namespace rdd::btrfs
