#include "reflinkdedup/fs/free_space.hpp"

#include <linux/btrfs.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

std::uint64_t committed_free_bytes(int fd, FsType type, const std::string& path) {
    if (::syncfs(fd) != 0) throw_errno("syncfs", path);
    if (type == FsType::Btrfs && ::ioctl(fd, BTRFS_IOC_SYNC) != 0) {
        throw_errno("BTRFS_IOC_SYNC", path);
    }
    struct statvfs s {};
    if (::fstatvfs(fd, &s) != 0) throw_errno("statvfs", path);
    return static_cast<std::uint64_t>(s.f_bfree) * s.f_frsize;
}

}  // namespace rdd
