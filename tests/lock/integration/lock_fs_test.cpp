#include "lock_fs_test.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <stdexcept>

#include "reflinkdedup/util/sys_error.hpp"
#include "reflinkdedup/util/unique_fd.hpp"
#include "support/file_checks.hpp"

namespace rdd::lock::test {

std::filesystem::path LockFsTest::make_file(const std::string& name, std::uint64_t seed,
                                            std::uint64_t bytes) {
    const auto p = path(name);
    rdd::test::write_random_file(p, bytes, seed);
    return p;
}

std::uint32_t flags_of(const std::filesystem::path& path) {
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw_errno("open", path.string());
    int flags = 0;
    if (::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) != 0) throw_errno("FS_IOC_GETFLAGS", path.string());
    return static_cast<std::uint32_t>(flags);
}

void set_flags(const std::filesystem::path& path, std::uint32_t flags) {
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw_errno("open", path.string());
    int value = static_cast<int>(flags);
    if (::ioctl(fd.get(), FS_IOC_SETFLAGS, &value) != 0) throw_errno("FS_IOC_SETFLAGS", path.string());
}

OpenedJob::OpenedJob(const std::vector<std::filesystem::path>& paths) {
    for (const auto& p : paths) {
        files_.push_back(open_regular_file(p.string()));
        if (files_.back().problem) throw std::runtime_error(p.string() + ": " + *files_.back().problem);
    }
    for (const auto& f : files_) targets_.push_back({f.fd.get(), f.path});
}

}  // namespace rdd::lock::test
