#pragma once
// Runs dedup-vol's jobs. A job (one destination file) first moves the extent remainders the
// plan named (its own, and those of source files whose remainders it would otherwise share:
// a remainder must reach its new extent before anyone shares it, or the old extent stays
// referenced), then shares its pieces, then makes holes of its written zeros (deduped from
// a hole of a nameless scratch file: the kernel compares, so only zeros become holes). Every file is locked (--lock) around its ioctls and
// checked against the catalog; the kernel compares the bytes itself, so nothing a racing
// writer does can be lost, and a file found changed or busy is skipped and listed.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "file_access.hpp"
#include "reflinkdedup/app/dedup_vol.hpp"
#include "reflinkdedup/app/retry_list.hpp"
#include "reflinkdedup/lock/freeze_journal.hpp"
#include "reflinkdedup/lock/job_lock.hpp"
#include "reflinkdedup/lock/lock_method.hpp"
#include "vol_jobs.hpp"

namespace rdd {

class JobExecutor {
public:
    // zero_holes: moved zeros become holes (else they are copied like any data).
    JobExecutor(FileAccess& files, JobPlan& plan, lock::LockMethod method, lock::FreezeJournal* journal,
                RetryList& retry, std::uint32_t block_size, bool zero_holes, DedupVolReport& report);

    void run(VolJob& job);
    // Files left alone, with why (the first 100 kept in the report).
    void skip(catalog::FileId file, const std::string& why);
    // Files whose data now lies elsewhere (shared or moved) since the last call, except those
    // with a move that did not happen: their catalog addresses stay as they were, so that the
    // next plan sees their blocks again and retries the move.
    [[nodiscard]] std::vector<catalog::FileId> take_relocated();

private:
    void run_job(VolJob& job);
    void move(VolJob& owner, ExtentMove& m);
    void share(catalog::FileId dst_file, const SharePiece& piece);
    void make_holes(const VolJob& job);
    // The file opened as a destination and locked on its own; nullptr (and listed) if not usable.
    [[nodiscard]] std::unique_ptr<lock::JobLock> lock_alone(catalog::FileId file, OpenedFile*& f);
    void warm(OpenedFile& f, std::uint64_t off, std::uint64_t len);
    void skip_path(const std::string& path, const std::string& why);

    FileAccess& files_;
    JobPlan& plan_;
    lock::LockMethod method_;
    lock::FreezeJournal* journal_;
    RetryList& retry_;
    std::uint64_t block_;
    bool zero_holes_;
    DedupVolReport& report_;
    std::vector<std::byte> buffer_;
    std::set<std::string> reported_;
    std::vector<catalog::FileId> relocated_;
    std::map<catalog::FileId, int> moves_undone_;  // moves started and not (yet) done, per file
};

}  // namespace rdd
