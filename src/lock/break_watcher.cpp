#include "break_watcher.hpp"

#include <fcntl.h>
#include <pthread.h>

#include <csignal>

#include "lease_channel.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::lock::detail {

namespace {

constexpr std::chrono::milliseconds kSlice{50};

// Every signal blocked in the calling thread until destroyed: a thread started meanwhile
// inherits the full mask, so no process-directed signal (SIGINT for the main thread's
// EINTR, a lease break meant for the signalfd) is ever delivered to the watcher.
class AllSignalsBlocked {
public:
    AllSignalsBlocked() {
        sigset_t all;
        sigfillset(&all);
        if (const int err = ::pthread_sigmask(SIG_BLOCK, &all, &old_); err != 0) {
            throw SysError(err, "pthread_sigmask", "");
        }
    }
    ~AllSignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
    AllSignalsBlocked(const AllSignalsBlocked&) = delete;
    AllSignalsBlocked& operator=(const AllSignalsBlocked&) = delete;

private:
    sigset_t old_{};
};

}  // namespace

BreakWatcher& BreakWatcher::instance() {
    static BreakWatcher watcher;
    return watcher;
}

// The channel first: constructed before, destroyed after the watcher's thread is joined.
BreakWatcher::BreakWatcher() { (void)LeaseChannel::instance(); }

BreakWatcher::~BreakWatcher() {
    if (thread_.joinable()) {
        thread_.request_stop();
        thread_.join();  // within one slice
    }
}

void BreakWatcher::watch(int fd) {
    const std::lock_guard lock(mutex_);
    watched_[fd] = 0;
    if (!thread_.joinable()) {
        const AllSignalsBlocked blocked;
        thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
    }
}

std::size_t BreakWatcher::unwatch(int fd) {
    const std::lock_guard lock(mutex_);
    const auto it = watched_.find(fd);
    if (it == watched_.end()) return 0;
    const std::size_t signals = it->second;
    watched_.erase(it);
    return signals;
}

void BreakWatcher::sweep() {
    const std::lock_guard lock(mutex_);
    sweep_locked();
}

std::size_t BreakWatcher::signals(int fd) {
    const std::lock_guard lock(mutex_);
    const auto it = watched_.find(fd);
    return it == watched_.end() ? 0 : it->second;
}

void BreakWatcher::sweep_locked() noexcept {
    try {
        for (const int fd : LeaseChannel::instance().drain().fds) {
            if (const auto it = watched_.find(fd); it != watched_.end()) ++it->second;
        }
    } catch (const SysError&) {
        // The signalfd failed (should not happen): F_GETLEASE below still finds every break.
    }
    for (const auto& [fd, signals] : watched_) {
        // A breaking lease reads as F_UNLCK (its target); unlocking lets the writer in now.
        // Unlocked already: F_GETLEASE says F_UNLCK too, and a second unlock does nothing.
        if (::fcntl(fd, F_GETLEASE) != F_RDLCK) (void)::fcntl(fd, F_SETLEASE, F_UNLCK);
    }
}

void BreakWatcher::run(const std::stop_token& stop) {
    while (!stop.stop_requested()) {
        try {
            (void)LeaseChannel::instance().wait(kSlice);
        } catch (const SysError&) {
            std::this_thread::sleep_for(kSlice);  // poll failed: sweep by F_GETLEASE each slice
        }
        const std::lock_guard lock(mutex_);
        sweep_locked();
    }
}

}  // namespace rdd::lock::detail
