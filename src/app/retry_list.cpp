#include "reflinkdedup/app/retry_list.hpp"

#include <ctime>

#include "reflinkdedup/catalog/busy_files.hpp"

namespace rdd {

RetryList::RetryList(catalog::Catalog& writer) : cat_(writer) {
    (void)catalog::prune_busy_files(cat_);
    for (const catalog::BusyFile& b : catalog::busy_files(cat_)) listed_.insert(b.file);
}

void RetryList::note_lock(std::span<const catalog::FileId> ids, const lock::JobLockReport& report) {
    for (std::size_t i = 0; i < ids.size() && i < report.files.size(); ++i) {
        const lock::LockResult& r = report.files[i];
        if (r.verdict != lock::LockVerdict::Busy) continue;
        busy(ids[i], r.reason, r.writers.empty() ? nullptr : &r.writers.front());
    }
}

bool RetryList::still_locked(lock::JobLock& job, std::span<const catalog::FileId> ids) {
    bool all = true;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (job.still_valid(i)) continue;
        all = false;
        // A writer blocked in open() has no fd yet: /proc cannot name it.
        busy(ids[i],
             job.method() == lock::LockMethod::Lease ? "a writer opened it during the run (read lease broken)"
                                                     : "its immutable flag could not be set again during the run",
             nullptr);
    }
    return all;
}

void RetryList::done(std::span<const catalog::FileId> ids) {
    std::vector<catalog::FileId> off;
    for (const catalog::FileId id : ids) {
        if (listed(id) && !busy_.contains(id)) off.push_back(id);
    }
    if (off.empty()) return;
    (void)catalog::clear_busy(cat_, off);
    for (const catalog::FileId id : off) listed_.erase(id);
}

void RetryList::finish(bool complete) {
    if (!complete) return;
    const std::vector<catalog::FileId> keep(busy_.begin(), busy_.end());
    (void)catalog::clear_busy_except(cat_, keep);
    listed_ = busy_;
}

void RetryList::busy(catalog::FileId file, const std::string& reason, const lock::Writer* writer) {
    if (busy_.contains(file)) return;  // one record per run, the first cause
    catalog::BusyRecord rec{file, reason, writer ? writer->pid : 0, writer ? writer->comm : std::string()};
    catalog::record_busy(cat_, std::span(&rec, 1), std::time(nullptr));
    busy_.insert(file);
    listed_.insert(file);
}

}  // namespace rdd
