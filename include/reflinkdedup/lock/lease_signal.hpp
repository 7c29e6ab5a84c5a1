#pragma once
// How lease breaks reach us without a signal handler. The kernel signals the lease holder's
// process when a writer opens the file; with F_SETSIG that is a realtime signal whose siginfo
// names the fd. We keep it (and SIGIO, the kernel's fallback when the realtime queue is full)
// blocked and read it from a signalfd. As a safety net both are set to SIG_IGN where they
// were SIG_DFL, so a thread that does not block them cannot be killed by one (the queued
// signal is then merely lost, and F_GETLEASE still tells the truth).
#include <csignal>
#include <thread>

namespace rdd::lock {

// The realtime signal F_SETSIG asks for on our leased fds.
[[nodiscard]] int lease_signal() noexcept;

// Blocks the lease signal and SIGIO in the calling thread for its lifetime; nests per thread,
// and the outermost one restores the thread's previous state. Threads inherit the mask, so
// holding one in main() before starting worker threads blocks them everywhere.
class [[nodiscard]] LeaseSignalBlock {
public:
    LeaseSignalBlock();
    ~LeaseSignalBlock();
    LeaseSignalBlock(const LeaseSignalBlock&) = delete;
    LeaseSignalBlock& operator=(const LeaseSignalBlock&) = delete;

private:
    std::thread::id owner_;  // the mask is per thread: only the blocking thread restores it
};

}  // namespace rdd::lock
