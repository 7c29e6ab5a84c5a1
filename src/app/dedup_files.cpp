#include "reflinkdedup/app/dedup_files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <span>

#include "reflinkdedup/app/interrupt.hpp"
#include "reflinkdedup/clone/dedupe_range.hpp"
#include "reflinkdedup/fs/fiemap.hpp"
#include "reflinkdedup/fs/free_space.hpp"
#include "reflinkdedup/fs/regular_file.hpp"
#include "reflinkdedup/lock/file_freeze_journal.hpp"
#include "reflinkdedup/lock/job_lock.hpp"
#include "reflinkdedup/lock/recover.hpp"
#include "reflinkdedup/plan/block_sharing.hpp"
#include "reflinkdedup/plan/dedupe_batches.hpp"
#include "reflinkdedup/plan/dedupe_length.hpp"
#include "reflinkdedup/plan/equal_runs.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

namespace {

struct Destination {
    OpenedFile* file;
    std::uint64_t size;
    std::size_t lock_index;  // in the JobLock's targets (0 is the source)
    bool failed = false;     // refused, busy or written to: leave it alone from now on
};

// Why a file cannot be locked, for the skipped list (the lock names the writers it found).
std::string lock_problem(const lock::LockResult& r) {
    return r.reason.empty() ? std::string("could not be locked") : r.reason;
}

// Smaller windows when many destinations are compared, so all of them stay in the page cache
// between reading and the kernel's own compare.
std::uint64_t window_for(std::uint64_t wanted, std::size_t destinations, std::uint64_t block) {
    constexpr std::uint64_t kReadSetBytes = 512u << 20;
    constexpr std::uint64_t kMinWindow = 1u << 20;
    std::uint64_t w = std::min(wanted, std::max(kMinWindow, kReadSetBytes / std::max<std::size_t>(destinations, 1)));
    w -= w % block;
    return std::max(w, block);
}

// The file journal: always for --lock=immutable (a live holder is an error: SysError
// EWOULDBLOCK); for the other methods only when a journal file exists and no live run holds it, to
// repair what a dead one left (creating nothing under --state-dir otherwise).
std::unique_ptr<lock::FileFreezeJournal> open_freeze_journal(const std::string& state_dir, lock::LockMethod method) {
    if (method == lock::LockMethod::Immutable) return std::make_unique<lock::FileFreezeJournal>(state_dir);
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::path(state_dir) / "freeze-journal", ec)) return nullptr;
    try {
        return std::make_unique<lock::FileFreezeJournal>(state_dir);
    } catch (const SysError& e) {
        if (e.err() == EWOULDBLOCK) return nullptr;  // a live immutable run: its entries are not dead
        throw;
    }
}

class DedupFilesRun {
public:
    DedupFilesRun(FileSet& set, const DedupFilesOptions& opt, DedupFilesReport& report, lock::JobLock& lock)
        : set_(set), opt_(opt), report_(report), lock_(lock), block_(set.fs.block_size) {
        src_size_ = static_cast<std::uint64_t>(set.source.st.st_size);
        for (OpenedFile& f : set.destinations) {
            dests_.push_back({&f, static_cast<std::uint64_t>(f.st.st_size), dests_.size() + 1});
        }
        window_ = window_for(opt.window_bytes, dests_.size(), block_);
        src_buf_.resize(static_cast<std::size_t>(window_));
        dst_buf_.resize(static_cast<std::size_t>(window_));
    }

    // Locks the job's files; false when the source itself cannot be used.
    bool lock_files() {
        std::vector<lock::LockTarget> targets{{src_fd(), src_path()}};
        for (const Destination& d : dests_) targets.push_back({d.file->fd.get(), d.file->path});
        const lock::JobLockReport locked = lock_.lock(targets);
        if (locked.files[0].verdict != lock::LockVerdict::Usable) {
            report_.skipped.push_back({src_path(), lock_problem(locked.files[0])});
            return false;
        }
        for (Destination& d : dests_) {
            const lock::LockResult& r = locked.files[d.lock_index];
            if (r.verdict != lock::LockVerdict::Usable) fail(d, lock_problem(r));
            else if (r.source_only) fail(d, "immutable: used only as a source, never modified");
        }
        return true;
    }

    void run() {
        if (!lock_files()) return;
        for (std::uint64_t w = 0; w < src_size_;) {
            if (interrupt_requested()) {
                report_.interrupted = true;
                return;
            }
            if (!lock_.still_valid(0)) {
                // Someone writes the source: stop, leaving every destination as it is.
                report_.skipped.push_back({src_path(), "written to during the run; stopped"});
                return;
            }
            // Windows that are holes in every file hold nothing to compare or share: a
            // terabyte-sized sparse file costs what its data does.
            const std::uint64_t data = next_data_anywhere(w);
            if (data >= w + window_) {
                w = data - data % window_;
                continue;
            }
            process_window(w, std::min(window_, src_size_ - w));
            w += window_;
        }
    }

private:
    const std::string& src_path() const { return set_.source.path; }
    int src_fd() const { return set_.source.fd.get(); }

    // The first data offset >= w in the source or a destination still worked on (src_size_ if none).
    std::uint64_t next_data_anywhere(std::uint64_t w) {
        std::uint64_t first = next_data(src_fd(), w, src_path()).value_or(src_size_);
        for (const Destination& d : dests_) {
            if (d.failed || d.size <= w || first == w) continue;
            first = std::min(first, next_data(d.file->fd.get(), w, d.file->path).value_or(src_size_));
        }
        return std::min(first, src_size_);
    }

    void process_window(std::uint64_t w, std::uint64_t src_len) {
        const auto src_ext = read_fiemap(src_fd(), w, src_len, src_path());
        std::vector<DedupeRequest> requests;
        bool src_loaded = false;
        for (std::size_t d = 0; d < dests_.size(); ++d) {
            Destination& dst = dests_[d];
            if (dst.failed || dst.size <= w || !still_locked(dst)) continue;
            const AlignedRanges r{w, w, std::min(src_len, dst.size - w)};
            const auto dst_ext = read_fiemap(dst.file->fd.get(), w, r.length, dst.file->path);
            const auto states = classify_blocks(src_ext, dst_ext, r, block_);
            report_.bytes_already_shared += bytes_in(states, BlockState::AlreadyShared, r.length);
            if (std::none_of(states.begin(), states.end(),
                             [](BlockState s) { return s == BlockState::Candidate; })) {
                continue;
            }
            if (!src_loaded) {
                load(src_fd(), src_path(), w, std::span(src_buf_).first(static_cast<std::size_t>(src_len)));
                src_loaded = true;
            }
            // Reading both ranges now also warms the page cache for the kernel's compare,
            // which runs ~10x slower from a cold cache.
            const auto n = static_cast<std::size_t>(r.length);
            load(dst.file->fd.get(), dst.file->path, w, std::span(dst_buf_).first(n));
            report_.bytes_compared += r.length;
            const auto equal = equal_blocks(std::span(src_buf_).first(n), std::span(dst_buf_).first(n), block_);
            for (const BlockRun& run : shareable_runs(states, equal)) {
                add_request(d, w + run.first * block_, run.count * block_, dst.size, requests);
            }
        }
        for (const DedupeCall& call : batch_requests(requests)) execute(call);
    }

    std::uint64_t bytes_in(const std::vector<BlockState>& states, BlockState which,
                           std::uint64_t length) const {
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < states.size(); ++i) {
            if (states[i] == which) total += std::min<std::uint64_t>(block_, length - i * block_);
        }
        return total;
    }

    void load(int fd, const std::string& path, std::uint64_t off, std::span<std::byte> buf) {
        if (read_at(fd, off, buf, path) != buf.size()) {
            throw SysError(EIO, "read (file shrank during the run)", path);
        }
    }

    void add_request(std::size_t d, std::uint64_t off, std::uint64_t len, std::uint64_t dst_size,
                     std::vector<DedupeRequest>& requests) {
        const auto l = dedupe_length({off, off, len, src_size_, dst_size}, block_);
        if (!l) return;
        report_.bytes_dedupable += l->effective;
        requests.push_back({d, off, off, l->effective});
    }

    // A broken lease (or a lost freeze) means someone writes the file: stop its work now,
    // which also releases the lease so the writer waits no longer.
    bool still_locked(Destination& d) {
        if (lock_.still_valid(d.lock_index)) return true;
        fail(d, "written to during the run; left as it was");
        return false;
    }

    void execute(const DedupeCall& whole) {
        if (opt_.dry_run) {
            ++report_.dedupe_calls;
            return;
        }
        if (!lock_.still_valid(0)) return;  // run() reports it before the next window
        DedupeCall call{whole.src_offset, whole.length, {}};
        for (const DedupeDest& dd : whole.dests) {
            if (!dests_[dd.dest].failed && still_locked(dests_[dd.dest])) call.dests.push_back(dd);
        }
        if (call.dests.empty()) return;
        ++report_.dedupe_calls;
        std::vector<DedupeTarget> targets;
        std::vector<std::size_t> lock_indices;
        for (const DedupeDest& dd : call.dests) {
            targets.push_back({dests_[dd.dest].file->fd.get(), dd.dst_offset});
            lock_indices.push_back(dests_[dd.dest].lock_index);
        }
        std::vector<DedupeOutcome> outcomes;
        try {
            // Immutable-frozen destinations are thawed only around their own ioctl.
            const lock::DestinationGuard guard = lock_.guard_destinations(lock_indices);
            outcomes = dedupe_range(src_fd(), call.src_offset, call.length, targets, src_path());
        } catch (const SysError& e) {
            // The call as a whole failed (e.g. the source shrank): mark its files, go on.
            for (const DedupeDest& dd : call.dests) fail(dests_[dd.dest], e.what());
            return;
        }
        for (std::size_t i = 0; i < outcomes.size(); ++i) {
            Destination& dst = dests_[call.dests[i].dest];
            switch (outcomes[i].status) {
                case DedupeStatus::Same:
                    report_.bytes_shared += verify(dst, call.src_offset, call.dests[i].dst_offset, call.length);
                    break;
                case DedupeStatus::Differs:
                    report_.bytes_changed += call.length;
                    break;
                case DedupeStatus::Failed:
                    fail(dst, "the kernel refused to share it: " + errno_text(outcomes[i].error));
                    break;
            }
        }
    }

    // What FIEMAP says is now shared in the range: the kernel's own count cannot be trusted.
    std::uint64_t verify(const Destination& dst, std::uint64_t src_off, std::uint64_t dst_off,
                         std::uint64_t len) {
        const auto s = read_fiemap(src_fd(), src_off, len, src_path());
        const auto d = read_fiemap(dst.file->fd.get(), dst_off, len, dst.file->path);
        return shared_bytes(s, d, {src_off, dst_off, len}, block_);
    }

    void fail(Destination& dst, const std::string& reason) {
        if (dst.failed) return;
        dst.failed = true;
        lock_.release(dst.lock_index);
        report_.skipped.push_back({dst.file->path, reason});
    }

    FileSet& set_;
    const DedupFilesOptions& opt_;
    DedupFilesReport& report_;
    lock::JobLock& lock_;
    std::uint64_t block_;
    std::uint64_t src_size_ = 0;
    std::uint64_t window_ = 0;
    std::vector<Destination> dests_;
    std::vector<std::byte> src_buf_, dst_buf_;
};

}  // namespace

DedupFilesReport dedup_files(const DedupFilesOptions& options) {
    FileSet set = prepare_file_set(options.paths);
    DedupFilesReport report;
    report.fs_type = set.fs.type_name;
    report.dry_run = options.dry_run;
    report.files = options.paths.size();
    report.skipped = set.skipped;
    if (set.destinations.empty()) return report;

    // A dry run changes nothing, not even a flag: it does not lock.
    const lock::LockMethod method = options.dry_run ? lock::LockMethod::None : options.lock_method;
    report.lock_method = std::string(lock::to_string(method));
    // The immutable method journals each file's flags before freezing it (dedup-files has no
    // catalog: in a file under --state-dir); a run that died left its entries behind, and they
    // are put back before anything else, whatever --lock this run uses.
    std::unique_ptr<lock::FileFreezeJournal> journal =
        options.dry_run ? nullptr : open_freeze_journal(options.state_dir, method);
    if (journal) {
        for (const lock::RecoverItem& r : lock::recover(*journal)) {
            if (r.outcome == lock::RecoverOutcome::Restored) ++report.freezes_recovered;
        }
    }
    if (method != lock::LockMethod::Immutable) journal.reset();  // let a concurrent immutable run have it
    const auto job_lock = lock::make_job_lock(method, journal.get());

    const int fs_fd = set.source.fd.get();
    const std::uint64_t free_before =
        options.dry_run ? 0 : committed_free_bytes(fs_fd, set.fs.type, set.source.path);
    DedupFilesRun(set, options, report, *job_lock).run();
    job_lock->release_all();
    if (!options.dry_run) {
        const std::uint64_t free_after = committed_free_bytes(fs_fd, set.fs.type, set.source.path);
        report.bytes_freed = static_cast<std::int64_t>(free_after) - static_cast<std::int64_t>(free_before);
    }
    return report;
}

}  // namespace rdd
