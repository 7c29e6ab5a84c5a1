#include "reflinkdedup/lock/lease_signal.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

#include "lease_channel.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::lock {

namespace {

sigset_t lease_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, lease_signal());
    sigaddset(&set, SIGIO);
    return set;
}

// Per-thread nesting of LeaseSignalBlock and what the mask said before the outermost one.
thread_local int tl_depth = 0;
thread_local sigset_t tl_previous;

void ignore_if_default(int sig) {
    struct sigaction current {};
    if (::sigaction(sig, nullptr, &current) != 0) throw_errno("sigaction", "");
    if ((current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_DFL) {
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        if (::sigaction(sig, &ign, nullptr) != 0) throw_errno("sigaction", "");
    }
}

}  // namespace

int lease_signal() noexcept { return SIGRTMIN + 5; }

LeaseSignalBlock::LeaseSignalBlock() : owner_(std::this_thread::get_id()) {
    const sigset_t set = lease_signals();
    sigset_t old;
    if (const int err = ::pthread_sigmask(SIG_BLOCK, &set, &old); err != 0) {
        throw SysError(err, "pthread_sigmask", "");
    }
    if (tl_depth++ == 0) tl_previous = old;
}

LeaseSignalBlock::~LeaseSignalBlock() {
    if (owner_ != std::this_thread::get_id() || tl_depth == 0) return;  // not our thread's mask
    if (--tl_depth > 0) return;
    // Discard what is still queued first: after the unblock it would be delivered (and,
    // with the SIG_IGN net in place, dropped) anyway.
    try {
        (void)detail::LeaseChannel::instance().drain();
    } catch (...) {  // nothing to drain if the channel cannot even be made
    }
    sigset_t unblock;
    sigemptyset(&unblock);
    for (int sig : {lease_signal(), SIGIO}) {
        if (sigismember(&tl_previous, sig) == 0) sigaddset(&unblock, sig);
    }
    ::pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
}

namespace detail {

LeaseChannel& LeaseChannel::instance() {
    static LeaseChannel channel;
    return channel;
}

LeaseChannel::LeaseChannel() {
    ignore_if_default(lease_signal());
    ignore_if_default(SIGIO);
    const sigset_t set = lease_signals();
    fd_ = UniqueFd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd_) throw_errno("signalfd", "");
}

Drained LeaseChannel::drain() {
    Drained out;
    signalfd_siginfo info[16];
    for (;;) {
        const ssize_t n = ::read(fd_.get(), info, sizeof info);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return out;
            throw_errno("read", "lease signalfd");
        }
        const auto count = static_cast<std::size_t>(n) / sizeof info[0];
        for (std::size_t i = 0; i < count; ++i) {
            if (static_cast<int>(info[i].ssi_signo) == lease_signal()) {
                out.fds.push_back(info[i].ssi_fd);
            } else {
                out.overflow = true;
            }
        }
    }
}

bool LeaseChannel::wait(std::chrono::milliseconds timeout) {
    pollfd p{fd_.get(), POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (rc < 0 && errno != EINTR) throw_errno("poll", "lease signalfd");
    return rc > 0;
}

}  // namespace detail

}  // namespace rdd::lock
