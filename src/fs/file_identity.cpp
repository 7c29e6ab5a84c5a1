#include "reflinkdedup/fs/file_identity.hpp"

#include <btrfsutil.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>

#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

FileIdentity file_identity(int fd, FsType type, const std::string& path) {
    FileIdentity id;
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno("stat", path);
    id.inode = st.st_ino;
    int generation = 0;  // the kernel copies an int (i_generation is u32)
    if (::ioctl(fd, FS_IOC_GETVERSION, &generation) != 0) throw_errno("FS_IOC_GETVERSION", path);
    id.generation = static_cast<std::uint32_t>(generation);
    if (type == FsType::Btrfs) {
        std::uint64_t subvol = 0;
        if (btrfs_util_subvolume_id_fd(fd, &subvol) != BTRFS_UTIL_OK) {
            throw_errno("BTRFS_IOC_INO_LOOKUP (subvolume id)", path);
        }
        id.subvolume = subvol;
    }
    return id;
}

}  // namespace rdd
