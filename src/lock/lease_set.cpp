#include "reflinkdedup/lock/lease_set.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>

#include "break_watcher.hpp"
#include "lease_channel.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::lock {

namespace {
constexpr std::chrono::milliseconds kWaitSlice{50};
}

LeaseSet::LeaseSet() {
    (void)detail::LeaseChannel::instance();  // SIG_IGN net and signalfd before any lease exists
}

LeaseSet::~LeaseSet() { release_all(); }

LeaseAttempt LeaseSet::acquire(int fd, const std::string& path) {
    LeaseAttempt attempt;
    attempt.id = leases_.size();
    Lease lease;
    lease.path = path;
    lease.fd = UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!lease.fd) throw_errno("dup", path);
    // F_SETSIG before the lease: a break then queues our realtime signal with si_fd set,
    // instead of a plain SIGIO.
    if (::fcntl(lease.fd.get(), F_SETSIG, lease_signal()) != 0) throw_errno("F_SETSIG", path);
    if (::fcntl(lease.fd.get(), F_SETLEASE, F_RDLCK) == 0) {
        lease.held = true;
        attempt.status = LeaseStatus::Held;
        detail::BreakWatcher::instance().watch(lease.fd.get());  // a break is given back at once
    } else {
        attempt.error = errno;
        attempt.status = errno == EAGAIN ? LeaseStatus::Busy : LeaseStatus::Failed;
        lease.fd.reset();
    }
    leases_.push_back(std::move(lease));
    return attempt;
}

bool LeaseSet::is_broken(const Lease& lease) const noexcept {
    // A breaking lease reads as F_UNLCK (its target type) until we release it.
    return ::fcntl(lease.fd.get(), F_GETLEASE) != F_RDLCK;
}

void LeaseSet::drain_signals() { detail::BreakWatcher::instance().sweep(); }

std::size_t LeaseSet::break_signals() const {
    std::size_t n = break_signals_;
    for (const Lease& lease : leases_) {
        if (lease.held) n += detail::BreakWatcher::instance().signals(lease.fd.get());
    }
    return n;
}

std::vector<LeaseId> LeaseSet::broken() {
    // The signals only wake us; any reader in the process may have taken ours, and the
    // realtime queue can overflow, so F_GETLEASE on every held lease decides (~1 us each).
    drain_signals();
    std::vector<LeaseId> out;
    for (LeaseId id = 0; id < leases_.size(); ++id) {
        if (leases_[id].held && is_broken(leases_[id])) {
            release(id);
            out.push_back(id);
        }
    }
    return out;
}

std::vector<LeaseId> LeaseSet::wait_for_break(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto out = broken();
        if (!out.empty()) return out;
        const auto left =
            std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return out;
        // Short slices: if a thread that does not block the signal swallowed it (SIG_IGN),
        // the F_GETLEASE sweep still notices the break within one slice.
        (void)detail::LeaseChannel::instance().wait(std::min(left, kWaitSlice));
    }
}

bool LeaseSet::still_valid(LeaseId id) {
    if (!held(id)) return false;
    drain_signals();
    if (is_broken(leases_[id])) {
        release(id);
        return false;
    }
    return true;
}

bool LeaseSet::held(LeaseId id) const noexcept { return id < leases_.size() && leases_[id].held; }

void LeaseSet::release(LeaseId id) noexcept {
    if (!held(id)) return;
    Lease& lease = leases_[id];
    // Unwatched before the fd can be closed (its number reused); then an explicit unlock: the
    // caller's own fd keeps the open file (and so the lease) alive.
    break_signals_ += detail::BreakWatcher::instance().unwatch(lease.fd.get());
    (void)::fcntl(lease.fd.get(), F_SETLEASE, F_UNLCK);
    lease.fd.reset();
    lease.held = false;
}

void LeaseSet::release_all() noexcept {
    for (LeaseId id = 0; id < leases_.size(); ++id) release(id);
}

}  // namespace rdd::lock
