#pragma once
// Free space as the filesystem reports it after everything pending is on disk: the only honest
// measure of what sharing extents gave back (requested dedupe lengths are not savings).
#include <cstdint>
#include <string>

#include "reflinkdedup/fs/filesystem.hpp"

namespace rdd {

// Commits the filesystem (syncfs; on btrfs also a transaction commit, since extents dropped
// by a dedupe are only returned to free space when the transaction commits) and returns
// statfs free bytes (f_bfree * f_frsize).
[[nodiscard]] std::uint64_t committed_free_bytes(int fd, FsType type, const std::string& path);

}  // namespace rdd
