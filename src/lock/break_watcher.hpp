#pragma once
// Internal: gives a broken read lease back at once, whatever the thread that holds it is busy
// with (reading ahead, inside a long FIDEDUPERANGE). A writer that opens a leased file blocks
// in open() until the lease is released; if only the owner released it, at its next
// still_valid() check, the writer's wait would grow with the owner's work between checks.
// One thread per process (started with the first watched lease) waits on the lease-break
// signalfd, and every 50 ms at most also asks F_GETLEASE of each watched fd (a signal may have
// been lost or read elsewhere); a lease that is breaking is unlocked on the spot. Its owner
// then sees F_GETLEASE != F_RDLCK, i.e. broken, and stops its work on that file.
#include <cstddef>
#include <map>
#include <mutex>
#include <thread>

namespace rdd::lock::detail {

class BreakWatcher {
public:
    static BreakWatcher& instance();
    ~BreakWatcher();
    BreakWatcher(const BreakWatcher&) = delete;
    BreakWatcher& operator=(const BreakWatcher&) = delete;

    // `fd` holds one of our read leases from now on.
    void watch(int fd);
    // Before `fd` is closed (or its lease released by its owner); returns the lease-break
    // signals seen for it.
    std::size_t unwatch(int fd);
    // Reads the signals queued so far and releases broken leases now (for owners, which must
    // not read the signalfd themselves: the watcher counts what it reads).
    void sweep();
    // Lease-break signals read so far that named `fd`.
    [[nodiscard]] std::size_t signals(int fd);

private:
    BreakWatcher();
    void run(const std::stop_token& stop);
    void sweep_locked() noexcept;  // mutex_ held

    std::mutex mutex_;
    std::map<int, std::size_t> watched_;  // fd -> break signals naming it
    std::jthread thread_;                 // started by the first watch()
};

}  // namespace rdd::lock::detail
