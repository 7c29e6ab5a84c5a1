#pragma once
// Opening the files we are asked to work on: read-only, never through a symlink, never blocking
// on a FIFO, never touching anything that is not a regular file.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd {

struct OpenedFile {
    std::string path;
    UniqueFd fd;                        // O_RDONLY; valid only when !problem
    struct stat st {};                  // of the opened inode
    std::optional<std::string> problem; // why it cannot be used ("directory", "no such file", ...)
};

// Opens `path` O_RDONLY|O_NOFOLLOW (and O_NOATIME where permitted, so reading leaves no trace).
// Expected user-level problems come back in `problem`; only unexpected failures throw.
[[nodiscard]] OpenedFile open_regular_file(const std::string& path);

// FS_IOC_GETFLAGS (FS_NOCOW_FL, FS_IMMUTABLE_FL, ...); 0 where the fs has no such flags.
[[nodiscard]] std::uint32_t inode_flags(int fd, const std::string& path);

// Whether the file sits in a read-only btrfs subvolume (snapshot). False on other filesystems.
[[nodiscard]] bool in_read_only_subvolume(int fd, const std::string& path);

// Reads up to buf.size() bytes at `offset`, retrying short reads; returns bytes read (less only
// at end of file).
[[nodiscard]] std::size_t read_at(int fd, std::uint64_t offset, std::span<std::byte> buf,
                                  const std::string& path);

// The first offset >= `from` that holds data (lseek SEEK_DATA), or nullopt when only holes
// follow. Filesystems without hole tracking report everything as data.
[[nodiscard]] std::optional<std::uint64_t> next_data(int fd, std::uint64_t from, const std::string& path);

}  // namespace rdd
