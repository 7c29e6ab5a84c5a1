#pragma once
// dedup-vol's side of the catalog's retry list: files skipped because someone was writing them
// (the read lease refused or broken, a writer found in /proc) are recorded at once, with the
// reason and the first writer's pid and command, so even a run that is killed later keeps
// them; the next run asks listed() to put their jobs first; a file leaves the list when its
// work is done, and a complete run (every planned job tried) also drops listed files that were
// not busy again.
#include <cstddef>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/lock/job_lock.hpp"

namespace rdd {

class RetryList {
public:
    // Loads the list of a writer catalog (first dropping rows of files no longer catalogued).
    // The catalog must outlive this.
    explicit RetryList(catalog::Catalog& writer);

    [[nodiscard]] bool listed(catalog::FileId file) const { return listed_.contains(file); }
    [[nodiscard]] std::size_t size() const noexcept { return listed_.size(); }

    // After JobLock::lock(): its Busy files go on the list. ids[i] is lock target i's file.
    void note_lock(std::span<const catalog::FileId> ids, const lock::JobLockReport& report);
    // JobLock::still_valid() of every target; files no longer locked (a writer broke the lease,
    // a flag could not be set again) go on the list. True when all are still locked.
    [[nodiscard]] bool still_locked(lock::JobLock& job, std::span<const catalog::FileId> ids);
    // The job's work on these files ran to its end under the lock: off the list, unless busy
    // earlier in this run.
    void done(std::span<const catalog::FileId> ids);
    // End of the run. complete: every planned run was tried (not interrupted, plan not cut
    // short); then the list keeps exactly the files found busy in this run.
    void finish(bool complete);

private:
    void busy(catalog::FileId file, const std::string& reason, const lock::Writer* writer);

    catalog::Catalog& cat_;
    std::set<catalog::FileId> listed_;  // on the list in the catalog now
    std::set<catalog::FileId> busy_;    // found busy in this run
};

}  // namespace rdd
