#pragma once
// What the dedupe engine calls per job, whatever --lock says:
//   auto lock = make_job_lock(method, &journal);
//   auto report = lock->lock(files);            // usable / busy (writers) / failed, source_only
//   for each ioctl: check still_valid() of its files, then
//       { auto guard = lock->guard_destinations(dest_indices); dedupe_range(...); }
//   lock->release(i) as soon as a file is done or no longer valid; the destructor releases all.
// A JobLock is used by one thread from creation to destruction (the lease signal mask is per
// thread).
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "reflinkdedup/lock/freeze_journal.hpp"
#include "reflinkdedup/lock/freezer.hpp"
#include "reflinkdedup/lock/lock_method.hpp"
#include "reflinkdedup/lock/lock_target.hpp"
#include "reflinkdedup/lock/writer_scan.hpp"

namespace rdd::lock {

enum class LockVerdict {
    Usable,  // locked (or --lock=none): go ahead
    Busy,    // someone writes it: skip, retry next run
    Failed,  // could not be examined or locked: skip (reason)
};

struct LockResult {
    LockVerdict verdict = LockVerdict::Failed;
    bool source_only = false;     // immutable before we came: never use it as a destination
    std::vector<Writer> writers;  // Busy: who (empty when /proc shows nobody, e.g. a kernel user)
    int error = 0;                // errno behind Busy/Failed, when there is one
    std::string reason;           // for reports; empty when Usable
};

struct JobLockReport {
    std::vector<LockResult> files;                // one per target, same order
    std::vector<InaccessibleProcess> unscanned;   // processes a writer scan could not look at
};

// Held around one FIDEDUPERANGE: thaws immutable-frozen destinations; nothing for leases.
// Must not outlive its JobLock.
class [[nodiscard]] DestinationGuard {
public:
    DestinationGuard() noexcept = default;
    explicit DestinationGuard(ThawGuard thaw) noexcept : thaw_(std::move(thaw)) {}
    // Ends the guard early (the destructor does it otherwise).
    void end() noexcept { thaw_.refreeze(); }

private:
    ThawGuard thaw_;
};

class JobLock {
public:
    virtual ~JobLock() = default;  // implementations release everything
    [[nodiscard]] virtual LockMethod method() const noexcept = 0;
    // Locks the files of one job (call once). Indices below refer to `files`.
    [[nodiscard]] virtual JobLockReport lock(std::span<const LockTarget> files) = 0;
    // Around each ioctl, for its destinations (all Usable, none source_only).
    [[nodiscard]] virtual DestinationGuard guard_destinations(std::span<const std::size_t> indices) = 0;
    // Still protected: lease not broken / flag still set. False after release.
    [[nodiscard]] virtual bool still_valid(std::size_t index) = 0;
    virtual void release(std::size_t index) = 0;
    virtual void release_all() noexcept = 0;
};

// `journal` is required for Immutable (std::invalid_argument otherwise) and must outlive the
// lock; the others ignore it.
[[nodiscard]] std::unique_ptr<JobLock> make_job_lock(LockMethod method, FreezeJournal* journal = nullptr);

}  // namespace rdd::lock
