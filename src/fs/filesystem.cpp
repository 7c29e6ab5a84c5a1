#include "reflinkdedup/fs/filesystem.hpp"

#include <linux/btrfs.h>
#include <linux/magic.h>
#include <rdd_kabi/fsuuid.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <xfs/xfs.h>

#include <array>
#include <cerrno>
#include <cstdio>

#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

namespace {

// Magic numbers of filesystems users are likely to point us at (linux/magic.h and fs sources).
struct NamedMagic {
    std::uint64_t magic;
    const char* name;
};
constexpr std::array kMagics{
    NamedMagic{BTRFS_SUPER_MAGIC, "btrfs"},   NamedMagic{XFS_SUPER_MAGIC, "xfs"},
    NamedMagic{EXT4_SUPER_MAGIC, "ext4"},     NamedMagic{TMPFS_MAGIC, "tmpfs"},
    NamedMagic{NFS_SUPER_MAGIC, "nfs"},       NamedMagic{0xff534d42, "cifs"},
    NamedMagic{0xfe534d42, "smb2"},           NamedMagic{0x65735546, "fuse"},
    NamedMagic{OVERLAYFS_SUPER_MAGIC, "overlayfs"}, NamedMagic{SQUASHFS_MAGIC, "squashfs"},
    NamedMagic{0x4d44, "vfat"},               NamedMagic{0x5346544e, "ntfs"},
    NamedMagic{0x7366746e, "ntfs3"},          NamedMagic{0x2011bab0, "exfat"},
    NamedMagic{0xf2f52010, "f2fs"},           NamedMagic{0xca451a4e, "bcachefs"},
    NamedMagic{PROC_SUPER_MAGIC, "proc"},     NamedMagic{SYSFS_MAGIC, "sysfs"},
    NamedMagic{RAMFS_MAGIC, "ramfs"},         NamedMagic{0x2fc12fc1, "zfs"},
};

std::string hex_uuid(const unsigned char* bytes, std::size_t n) {
    std::string out;
    char buf[3];
    for (std::size_t i = 0; i < n; ++i) {
        if (n == 16 && (i == 4 || i == 6 || i == 8 || i == 10)) out += '-';
        std::snprintf(buf, sizeof buf, "%02x", bytes[i]);
        out += buf;
    }
    return out;
}

// UUID from FS_IOC_GETFSUUID (Linux 6.5+); empty when the kernel or fs does not offer it.
std::string generic_uuid(int fd) {
    fsuuid2 u{};
    if (::ioctl(fd, FS_IOC_GETFSUUID, &u) != 0 || u.len == 0 || u.len > sizeof u.uuid) return {};
    return hex_uuid(u.uuid, u.len);
}

void probe_btrfs(int fd, const std::string& path, FilesystemInfo& info) {
    btrfs_ioctl_fs_info_args args{};
    if (::ioctl(fd, BTRFS_IOC_FS_INFO, &args) != 0) throw_errno("BTRFS_IOC_FS_INFO", path);
    info.uuid = hex_uuid(args.fsid, sizeof args.fsid);
    info.id = "btrfs:" + info.uuid;  // st_dev differs per subvolume; the fsid does not
    info.block_size = args.sectorsize;
    info.can_share = true;
}

void probe_xfs(int fd, const std::string& path, FilesystemInfo& info) {
    xfs_fsop_geom geo{};
    if (::ioctl(fd, XFS_IOC_FSGEOMETRY, &geo) != 0) throw_errno("XFS_IOC_FSGEOMETRY", path);
    info.can_share = (geo.flags & XFS_FSOP_GEOM_FLAGS_REFLINK) != 0;
    info.block_size = geo.blocksize;
    info.type_name = info.can_share ? "xfs" : "xfs without reflink";
}

}  // namespace

std::string fs_type_name(std::uint64_t magic) {
    for (const auto& m : kMagics)
        if (m.magic == magic) return m.name;
    char buf[32];
    std::snprintf(buf, sizeof buf, "filesystem 0x%llx", static_cast<unsigned long long>(magic));
    return buf;
}

FilesystemInfo probe_filesystem(int fd, const std::string& path) {
    struct statfs sfs {};
    if (::fstatfs(fd, &sfs) != 0) throw_errno("statfs", path);
    struct statvfs svfs {};
    if (::fstatvfs(fd, &svfs) != 0) throw_errno("statvfs", path);
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno("stat", path);

    FilesystemInfo info;
    const auto magic = static_cast<std::uint64_t>(sfs.f_type);
    info.type_name = fs_type_name(magic);
    info.read_only = (svfs.f_flag & ST_RDONLY) != 0;
    info.block_size = static_cast<std::uint32_t>(sfs.f_bsize);
    info.id = "dev:" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
    if (magic == BTRFS_SUPER_MAGIC) {
        info.type = FsType::Btrfs;
        probe_btrfs(fd, path, info);
    } else {
        if (magic == XFS_SUPER_MAGIC) {
            info.type = FsType::Xfs;
            probe_xfs(fd, path, info);
        }
        info.uuid = generic_uuid(fd);
    }
    return info;
}

std::string cannot_share_message(const std::string& path, const FilesystemInfo& fs) {
    return path + ": on " + fs.type_name +
           ", which cannot share extents; reflinkdedup needs btrfs or XFS with reflink=1";
}

}  // namespace rdd
