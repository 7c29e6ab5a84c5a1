#include "reflinkdedup/fs/regular_file.hpp"

#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <climits>
#include <cerrno>

#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

namespace {

std::string type_problem(mode_t mode) {
    if (S_ISDIR(mode)) return "directory";
    if (S_ISLNK(mode)) return "symbolic link (never followed)";
    if (S_ISFIFO(mode)) return "FIFO (not a regular file)";
    if (S_ISSOCK(mode)) return "socket (not a regular file)";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "device (not a regular file)";
    return "not a regular file";
}

int open_noatime_first(int dir_fd, const std::string& name) {
    constexpr int base = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    int fd = ::openat(dir_fd, name.c_str(), base | O_NOATIME);
    // O_NOATIME needs ownership or CAP_FOWNER; fall back to a plain read-only open.
    if (fd < 0 && errno == EPERM) fd = ::openat(dir_fd, name.c_str(), base);
    return fd;
}

// A path of PATH_MAX bytes or more (a deep tree: the walk reaches such files through
// directory descriptors) is refused by every system call with ENAMETOOLONG. Its parent is
// opened a component at a time (following symlinks there, as open(2) would); `name` gets
// the last component.
UniqueFd open_parent_of_long_path(const std::string& path, std::string& name) {
    const std::size_t slash = path.rfind('/');
    name = path.substr(slash + 1);
    UniqueFd dir(::open(path.front() == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    for (std::size_t pos = 0; dir && pos < slash;) {
        const std::size_t end = path.find('/', pos);  // <= slash
        if (end > pos) {
            const std::string component = path.substr(pos, end - pos);
            dir = UniqueFd(::openat(dir.get(), component.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        }
        pos = end + 1;
    }
    return dir;
}

}  // namespace

OpenedFile open_regular_file(const std::string& path) {
    OpenedFile f;
    f.path = path;
    UniqueFd parent;
    std::string name = path;
    if (path.size() >= PATH_MAX && path.find('/') != std::string::npos) {
        parent = open_parent_of_long_path(path, name);
        if (!parent) {
            f.problem = errno == ENOENT ? std::string("no such file") : errno_text(errno);
            return f;
        }
    }
    const int dir_fd = parent ? parent.get() : AT_FDCWD;
    struct stat lst {};
    if (::fstatat(dir_fd, name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0) {
        f.problem = errno == ENOENT ? std::string("no such file") : errno_text(errno);
        return f;
    }
    if (!S_ISREG(lst.st_mode)) {  // decided before open(): opening a device or FIFO has effects
        f.problem = type_problem(lst.st_mode);
        return f;
    }
    UniqueFd fd(open_noatime_first(dir_fd, name));
    if (!fd) {
        f.problem = errno == ELOOP ? type_problem(S_IFLNK) : errno_text(errno);
        return f;
    }
    if (::fstat(fd.get(), &f.st) != 0) throw_errno("fstat", path);
    if (f.st.st_dev != lst.st_dev || f.st.st_ino != lst.st_ino) {
        f.problem = "replaced while being opened";
        return f;
    }
    f.fd = std::move(fd);
    return f;
}

std::uint32_t inode_flags(int fd, const std::string& path) {
    int flags = 0;
    if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
        if (errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL) return 0;
        throw_errno("FS_IOC_GETFLAGS", path);
    }
    return static_cast<std::uint32_t>(flags);
}

bool in_read_only_subvolume(int fd, const std::string& path) {
    // GET_SUBVOL_INFO answers for the subvolume holding any inode, without privileges
    // (libbtrfsutil's wrapper insists on the subvolume root, so the ioctl is called directly).
    btrfs_ioctl_get_subvol_info_args info{};
    // Success is 0 for the top-level subvolume and 1 for the others: only < 0 is an error.
    if (::ioctl(fd, BTRFS_IOC_GET_SUBVOL_INFO, &info) < 0) {
        if (errno == ENOTTY || errno == EOPNOTSUPP) return false;
        throw_errno("BTRFS_IOC_GET_SUBVOL_INFO", path);
    }
    return (info.flags & BTRFS_ROOT_SUBVOL_RDONLY) != 0;
}

std::size_t read_at(int fd, std::uint64_t offset, std::span<std::byte> buf,
                    const std::string& path) {
    std::size_t done = 0;
    while (done < buf.size()) {
        const ssize_t n = ::pread(fd, buf.data() + done, buf.size() - done,
                                  static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read", path);
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

std::optional<std::uint64_t> next_data(int fd, std::uint64_t from, const std::string& path) {
    const off_t at = ::lseek(fd, static_cast<off_t>(from), SEEK_DATA);
    if (at >= 0) return static_cast<std::uint64_t>(at);
    if (errno == ENXIO) return std::nullopt;  // no data at or after `from`
    throw_errno("lseek SEEK_DATA", path);
}

}  // namespace rdd
