#pragma once
// Read leases (F_SETLEASE F_RDLCK) on the O_RDONLY fds of one job. Taking one fails with
// EAGAIN while anyone has the file open for writing or mapped shared-writable (the kernel's
// i_writecount: fds, mappings whose fd is closed, kernel users). While we hold it, a writer's
// open() blocks and the kernel queues lease_signal() for us; the writer waits until we release,
// at most /proc/sys/fs/lease-break-time. Leases die with the process: nothing to repair after a
// crash, and no timestamp moves.
//
// A lease that starts to break is unlocked at once by a watcher thread (one per process), even
// while its owner is busy elsewhere: the writer waits milliseconds, not until our next check.
// The owner learns of it at its next broken() / still_valid() and must stop using that file.
//
// One LeaseSet belongs to one thread (it blocks the lease signals there for its lifetime).
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "reflinkdedup/lock/lease_signal.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd::lock {

enum class LeaseStatus {
    Held,    // ours until released or broken
    Busy,    // EAGAIN: someone writes the file or has it mapped writable
    Failed,  // any other errno (leases disabled, not the owner without CAP_LEASE, fs without leases)
};

using LeaseId = std::size_t;

struct LeaseAttempt {
    LeaseStatus status = LeaseStatus::Failed;
    int error = 0;   // errno when not Held
    LeaseId id = 0;  // names this attempt in the set (held(id) is false unless Held)
};

class LeaseSet {
public:
    LeaseSet();
    ~LeaseSet();  // releases every lease still held
    LeaseSet(const LeaseSet&) = delete;
    LeaseSet& operator=(const LeaseSet&) = delete;

    // Takes a read lease through a duplicate of `fd` (which must be O_RDONLY), so the lease
    // lives exactly as long as this set says, whatever the caller does with its own fd.
    [[nodiscard]] LeaseAttempt acquire(int fd, const std::string& path);

    // Leases a writer has broken since the last call, each reported once (released by now:
    // stop all remaining work on those files). Never blocks.
    [[nodiscard]] std::vector<LeaseId> broken();
    // As broken(), but waits up to `timeout` for a break signal when none is pending yet.
    [[nodiscard]] std::vector<LeaseId> wait_for_break(std::chrono::milliseconds timeout);

    // Held and not broken (a broken one is released on the spot).
    [[nodiscard]] bool still_valid(LeaseId id);
    [[nodiscard]] bool held(LeaseId id) const noexcept;
    [[nodiscard]] const std::string& path(LeaseId id) const { return leases_.at(id).path; }

    void release(LeaseId id) noexcept;
    void release_all() noexcept;

    // Lease-break signals read for this set's leases so far (diagnostics and tests: breaks
    // are also noticed without one, by F_GETLEASE).
    [[nodiscard]] std::size_t break_signals() const;

private:
    struct Lease {
        UniqueFd fd;  // our duplicate; the lease belongs to the open file description
        std::string path;
        bool held = false;
    };

    // True when F_GETLEASE no longer reports our read lease (break pending or timed out).
    [[nodiscard]] bool is_broken(const Lease& lease) const noexcept;

    // Has the watcher read the queued lease signals and release broken leases now.
    void drain_signals();

    LeaseSignalBlock block_;
    std::vector<Lease> leases_;
    std::size_t break_signals_ = 0;  // of leases released already
};

}  // namespace rdd::lock
