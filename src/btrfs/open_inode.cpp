#include "reflinkdedup/btrfs/open_inode.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "rdd_kabi/btrfs_fid.h"

namespace rdd::btrfs {

UniqueFd open_inode(int mount_fd, const InodeHandle& handle) {
    // struct file_handle ends in a flexible array: reserve room for the fid behind it.
    struct {
        struct file_handle header;
        unsigned char fid[sizeof(rdd_btrfs_fid)];
    } buf{};
    rdd_btrfs_fid fid{};
    fid.objectid = handle.ino;
    fid.root_objectid = handle.subvol;
    fid.gen = handle.generation;
    buf.header.handle_bytes = sizeof fid;
    buf.header.handle_type = RDD_FILEID_BTRFS_WITHOUT_PARENT;
    std::memcpy(buf.header.f_handle, &fid, sizeof fid);
    constexpr int base = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    int fd = ::open_by_handle_at(mount_fd, &buf.header, base | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::open_by_handle_at(mount_fd, &buf.header, base);  // not the owner
    return UniqueFd(fd);
}

}  // namespace rdd::btrfs
