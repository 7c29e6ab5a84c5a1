#include "file_flags.hpp"

#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <filesystem>

#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::lock::detail {

void set_inode_flags(int fd, std::uint32_t flags, const std::string& path) {
    int value = static_cast<int>(flags);  // the kernel copies an int
    if (::ioctl(fd, FS_IOC_SETFLAGS, &value) != 0) throw_errno("FS_IOC_SETFLAGS", path);
}

std::string absolute_path_of(int fd, const std::string& fallback) {
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    char buf[4096];
    const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
    if (n > 0 && static_cast<std::size_t>(n) < sizeof buf && buf[0] == '/') {
        return std::string(buf, static_cast<std::size_t>(n));
    }
    std::error_code ec;
    auto abs = std::filesystem::absolute(fallback, ec);
    return ec ? fallback : abs.string();
}

std::string filesystem_key(const FilesystemInfo& info) { return info.uuid.empty() ? info.id : info.uuid; }

}  // namespace rdd::lock::detail
