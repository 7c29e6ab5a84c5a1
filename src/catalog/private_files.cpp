#include "private_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "reflinkdedup/util/sys_error.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd::catalog::detail {

namespace {
void tighten_fd(int fd, const std::string& path, mode_t mode) {
    if ((mode & 077) != 0 && ::fchmod(fd, mode & 0700) != 0) throw_errno("fchmod", path);
}
}  // namespace

void ensure_private_dir(const std::filesystem::path& dir) {
    if (dir.empty()) return;
    std::filesystem::path partial;
    for (const auto& part : dir) {
        partial /= part;
        if (::mkdir(partial.c_str(), 0700) == 0) {
            // The umask may have removed owner bits we need.
            if (::chmod(partial.c_str(), 0700) != 0) throw_errno("chmod", partial.string());
        } else if (errno != EEXIST) {
            throw_errno("mkdir", partial.string());
        }
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) throw_errno("stat", dir.string());
    if (!S_ISDIR(st.st_mode)) throw SysError(ENOTDIR, "catalog directory", dir.string());
}

void ensure_private_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) throw_errno("open", path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("fstat", path);
    if (!S_ISREG(st.st_mode)) throw SysError(EINVAL, "catalog is not a regular file", path);
    tighten_fd(fd.get(), path, st.st_mode);
}

void tighten_if_exists(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) return;
        throw_errno("open", path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("fstat", path);
    tighten_fd(fd.get(), path, st.st_mode);
}

std::uint64_t file_size_or_zero(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return 0;
    return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace rdd::catalog::detail
