#include "reflinkdedup/lock/job_lock.hpp"

#include <linux/fs.h>
#include <sys/stat.h>

#include <optional>
#include <stdexcept>

#include "reflinkdedup/fs/regular_file.hpp"
#include "reflinkdedup/lock/lease_set.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::lock {

namespace {

// What every method reports the same way: the inode, and whether it is already immutable
// (the kernel refuses it as a destination, so it may only be a source).
struct Examined {
    FileKey key;
    bool source_only = false;
};

std::optional<Examined> examine(const LockTarget& file, LockResult& out) {
    try {
        struct stat st {};
        if (::fstat(file.fd, &st) != 0) throw_errno("stat", file.path);
        return Examined{file_key(st), (inode_flags(file.fd, file.path) & FS_IMMUTABLE_FL) != 0};
    } catch (const SysError& e) {
        out.verdict = LockVerdict::Failed;
        out.error = e.err();
        out.reason = e.what();
        return std::nullopt;
    }
}

std::string writers_reason(const std::vector<Writer>& writers) {
    if (writers.empty()) {
        return "in write use (no writer visible in /proc: a kernel user, an io_uring fixed file, "
               "or it has just gone)";
    }
    std::string s = "in write use: ";
    for (std::size_t i = 0; i < writers.size(); ++i) s += (i ? "; " : "") + describe(writers[i]);
    return s;
}

class NoLock final : public JobLock {
public:
    LockMethod method() const noexcept override { return LockMethod::None; }
    JobLockReport lock(std::span<const LockTarget> files) override {
        JobLockReport report;
        report.files.resize(files.size());
        for (std::size_t i = 0; i < files.size(); ++i) {
            if (const auto ex = examine(files[i], report.files[i])) {
                report.files[i].verdict = LockVerdict::Usable;
                report.files[i].source_only = ex->source_only;
            }
        }
        return report;
    }
    DestinationGuard guard_destinations(std::span<const std::size_t>) override { return {}; }
    bool still_valid(std::size_t) override { return true; }
    void release(std::size_t) override {}
    void release_all() noexcept override {}
};

class LeaseLock final : public JobLock {
public:
    LockMethod method() const noexcept override { return LockMethod::Lease; }

    JobLockReport lock(std::span<const LockTarget> files) override {
        JobLockReport report;
        report.files.resize(files.size());
        ids_.assign(files.size(), std::nullopt);
        std::vector<std::pair<std::size_t, FileKey>> busy;
        for (std::size_t i = 0; i < files.size(); ++i) {
            LockResult& out = report.files[i];
            const auto ex = examine(files[i], out);
            if (!ex) continue;
            out.source_only = ex->source_only;
            const LeaseAttempt attempt = leases_.acquire(files[i].fd, files[i].path);
            out.error = attempt.error;
            switch (attempt.status) {
                case LeaseStatus::Held:
                    out.verdict = LockVerdict::Usable;
                    ids_[i] = attempt.id;
                    break;
                case LeaseStatus::Busy:
                    out.verdict = LockVerdict::Busy;
                    busy.emplace_back(i, ex->key);
                    break;
                case LeaseStatus::Failed:
                    out.verdict = LockVerdict::Failed;
                    out.reason = "cannot take a read lease: " + errno_text(attempt.error) +
                                 " (see --lock=immutable or --lock=none)";
                    break;
            }
        }
        if (!busy.empty()) {  // the lease said "a writer"; /proc says who, for the report
            std::vector<FileKey> keys;
            for (const auto& b : busy) keys.push_back(b.second);
            const WriterScanResult scan = scan_writers(keys);
            report.unscanned = scan.inaccessible;
            for (const auto& [i, key] : busy) {
                if (const auto w = scan.writers.find(key); w != scan.writers.end()) {
                    report.files[i].writers = w->second;
                }
                report.files[i].reason = writers_reason(report.files[i].writers);
            }
        }
        return report;
    }

    DestinationGuard guard_destinations(std::span<const std::size_t>) override { return {}; }
    bool still_valid(std::size_t index) override {
        return index < ids_.size() && ids_[index] && leases_.still_valid(*ids_[index]);
    }
    void release(std::size_t index) override {
        if (index < ids_.size() && ids_[index]) leases_.release(*ids_[index]);
    }
    void release_all() noexcept override { leases_.release_all(); }

private:
    LeaseSet leases_;
    std::vector<std::optional<LeaseId>> ids_;
};

class ImmutableLock final : public JobLock {
public:
    explicit ImmutableLock(FreezeJournal& journal) : freezer_(journal) {}
    LockMethod method() const noexcept override { return LockMethod::Immutable; }

    JobLockReport lock(std::span<const LockTarget> files) override {
        const FreezeReport frozen = freezer_.freeze(files);
        JobLockReport report;
        report.unscanned = frozen.unscanned;
        report.files.resize(files.size());
        for (std::size_t i = 0; i < files.size(); ++i) {
            const FreezeOutcome& f = frozen.files[i];
            LockResult& out = report.files[i];
            out.error = f.error;
            out.reason = f.reason;
            out.writers = f.writers;
            switch (f.state) {
                case FreezeState::Frozen:
                    out.verdict = LockVerdict::Usable;
                    break;
                case FreezeState::SourceOnly:
                    out.verdict = LockVerdict::Usable;
                    out.source_only = true;
                    break;
                case FreezeState::Busy:
                    out.verdict = LockVerdict::Busy;
                    out.reason = writers_reason(f.writers);
                    break;
                case FreezeState::Failed:
                case FreezeState::Released:
                    out.verdict = LockVerdict::Failed;
                    break;
            }
        }
        return report;
    }

    DestinationGuard guard_destinations(std::span<const std::size_t> indices) override {
        return DestinationGuard(freezer_.thaw(indices));
    }
    bool still_valid(std::size_t index) override { return freezer_.still_valid(index); }
    void release(std::size_t index) override { freezer_.release(index); }
    void release_all() noexcept override { freezer_.release_all(); }

private:
    Freezer freezer_;
};

}  // namespace

std::unique_ptr<JobLock> make_job_lock(LockMethod method, FreezeJournal* journal) {
    switch (method) {
        case LockMethod::Lease: return std::make_unique<LeaseLock>();
        case LockMethod::None: return std::make_unique<NoLock>();
        case LockMethod::Immutable:
            if (journal == nullptr) {
                throw std::invalid_argument("make_job_lock: --lock=immutable needs a journal");
            }
            return std::make_unique<ImmutableLock>(*journal);
    }
    throw std::invalid_argument("make_job_lock: unknown method");
}

}  // namespace rdd::lock
