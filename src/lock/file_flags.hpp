#pragma once
// Internal helpers of the immutable-flag freeze.
#include <cstdint>
#include <string>

#include "reflinkdedup/fs/filesystem.hpp"

namespace rdd::lock::detail {

// FS_IOC_SETFLAGS through any fd (root may do it through an O_RDONLY one). Throws SysError.
void set_inode_flags(int fd, std::uint32_t flags, const std::string& path);

// Where the open file is now, from /proc/self/fd (absolute, symlinks resolved); `fallback`
// made absolute when that cannot be read.
[[nodiscard]] std::string absolute_path_of(int fd, const std::string& fallback);

// What names the filesystem across reboots: its UUID, else FilesystemInfo::id.
[[nodiscard]] std::string filesystem_key(const FilesystemInfo& info);

}  // namespace rdd::lock::detail
