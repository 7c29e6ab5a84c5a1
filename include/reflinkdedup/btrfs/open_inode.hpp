#pragma once
// Opening a btrfs file by its identity (subvolume, inode, generation) instead of by a path:
// immune to renames and to a path component being swapped for a symlink, and a reused inode
// number (another generation) is refused by the kernel (ESTALE). Needs CAP_DAC_READ_SEARCH.
#include <cstdint>

#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd::btrfs {

struct InodeHandle {
    std::uint64_t subvol = 0;
    std::uint64_t ino = 0;
    std::uint32_t generation = 0;
};

// open_by_handle_at(mount_fd, ...) read-only (O_NOATIME where allowed, O_NONBLOCK so a lease
// or mandatory lock never blocks us). `mount_fd` is any fd on the same filesystem. Returns an
// invalid fd with errno set on failure: ESTALE (gone or another generation), EPERM (no
// CAP_DAC_READ_SEARCH), EOPNOTSUPP, ...
[[nodiscard]] UniqueFd open_inode(int mount_fd, const InodeHandle& handle);

}  // namespace rdd::btrfs
