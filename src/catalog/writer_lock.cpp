#include "reflinkdedup/catalog/writer_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::catalog {

namespace {

// true: locked; false: someone else holds it.
bool try_lock(int fd, const std::string& path) {
    struct flock lk {};
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    // OFD locks belong to the open file description: not dropped when any other fd of the
    // process to the same file is closed (unlike POSIX locks), and they exclude other
    // descriptions in the same process too.
    if (::fcntl(fd, F_OFD_SETLK, &lk) == 0) return true;
    if (errno == EAGAIN || errno == EACCES) return false;
    throw_errno("fcntl(F_OFD_SETLK)", path);
}

}  // namespace

WriterLock WriterLock::acquire(const std::string& lock_path, std::chrono::milliseconds timeout) {
    UniqueFd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw_errno("open lock file", lock_path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("fstat", lock_path);
    if ((st.st_mode & 077) != 0 && ::fchmod(fd.get(), st.st_mode & 0700) != 0) throw_errno("fchmod", lock_path);

    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const auto deadline = start + timeout;
    // Polling keeps this free of signals (F_OFD_SETLKW has no timeout); 20 ms is far below
    // anything a user waits for and far above the cost of the call.
    for (;;) {
        if (try_lock(fd.get(), lock_path)) return WriterLock(std::move(fd));
        const auto now = clock::now();
        if (now >= deadline) {
            const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count();
            throw WriterLockTimeoutError(lock_path, static_cast<long long>(waited));
        }
        std::this_thread::sleep_for(std::min<clock::duration>(std::chrono::milliseconds(20), deadline - now));
    }
}

}  // namespace rdd::catalog
