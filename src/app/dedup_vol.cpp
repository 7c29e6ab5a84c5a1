#include "reflinkdedup/app/dedup_vol.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "reflinkdedup/app/interrupt.hpp"
#include "reflinkdedup/btrfs/subvolume.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/clone/dedupe_range.hpp"
#include "reflinkdedup/fs/fiemap.hpp"
#include "reflinkdedup/fs/free_space.hpp"
#include "reflinkdedup/lock/file_freeze_journal.hpp"
#include "reflinkdedup/lock/job_lock.hpp"
#include "reflinkdedup/lock/recover.hpp"
#include "reflinkdedup/plan/block_groups.hpp"
#include "reflinkdedup/plan/block_sharing.hpp"
#include "reflinkdedup/plan/dedupe_batches.hpp"
#include "reflinkdedup/plan/dedupe_length.hpp"
#include "reflinkdedup/plan/runs.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

namespace {

constexpr std::size_t kMaxSkippedListed = 100;

std::int64_t ns(const timespec& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

struct VolumeInfo {
    std::string path;
    bool read_only = false;  // a read-only btrfs snapshot: a source, never a destination
};

// Catalogued files as the executor needs them: rows, open files (a few at a time), checks.
class FileAccess {
public:
    FileAccess(const catalog::Catalog& cat, const FilesystemInfo& fs) : cat_(cat), fs_(fs) {
        for (const catalog::Volume& v : cat.volumes()) {
            VolumeInfo info{v.path, false};
            if (v.subvol_id != 0) {
                try {
                    info.read_only = btrfs::subvolume_at(v.path).read_only;
                } catch (const std::exception&) {
                    info.read_only = true;  // cannot tell: never modify it
                }
            }
            volumes_[v.id] = info;
        }
    }

    const catalog::FileRow* row(catalog::FileId id) {
        auto [it, added] = rows_.try_emplace(id);
        if (added) it->second = cat_.file(id);
        return it->second ? &*it->second : nullptr;
    }

    bool shareable(catalog::FileId id) {
        const catalog::FileRow* r = row(id);
        return r != nullptr && r->state == catalog::FileState::hashed;
    }

    bool may_modify(catalog::FileId id) {
        const catalog::FileRow* r = row(id);
        if (r == nullptr || r->state != catalog::FileState::hashed) return false;
        const auto v = volumes_.find(r->volume);
        return v != volumes_.end() && !v->second.read_only;
    }

    std::string path_of(const catalog::FileRow& r) const {
        const auto v = volumes_.find(r.volume);
        return (v == volumes_.end() ? std::string("?") : v->second.path) + "/" + r.path;
    }

    // The file as catalogued, opened read-only; the reason instead when it changed or cannot
    // take part.
    OpenedFile* open(catalog::FileId id, bool as_destination, std::string& why) {
        if (open_.size() > 64) open_.clear();  // runs come sorted by destination: few files are hot
        auto it = open_.find(id);
        if (it == open_.end()) it = open_.emplace(id, std::make_unique<OpenedFile>(open_file(id))).first;
        OpenedFile& f = *it->second;
        if (f.problem) {
            why = *f.problem;
            return nullptr;
        }
        if (const auto p = sharing_problem(f, fs_, as_destination)) {
            why = *p;
            return nullptr;
        }
        return &f;
    }

private:
    OpenedFile open_file(catalog::FileId id) {
        const catalog::FileRow* r = row(id);
        OpenedFile f = open_regular_file(r ? path_of(*r) : std::string("?"));
        if (f.problem || r == nullptr) return f;
        int generation = 0;
        const bool same = ::ioctl(f.fd.get(), FS_IOC_GETVERSION, &generation) == 0 &&
                          static_cast<std::uint32_t>(generation) == r->identity.generation &&
                          f.st.st_ino == r->identity.ino && static_cast<std::uint64_t>(f.st.st_size) == r->size &&
                          ns(f.st.st_mtim) == r->mtime_ns && ns(f.st.st_ctim) == r->ctime_ns;
        if (!same) f.problem = "changed since it was scanned; retried next run";
        return f;
    }

    const catalog::Catalog& cat_;
    const FilesystemInfo& fs_;
    std::map<catalog::VolumeId, VolumeInfo> volumes_;
    std::map<catalog::FileId, std::optional<catalog::FileRow>> rows_;
    std::map<catalog::FileId, std::unique_ptr<OpenedFile>> open_;
};

// Groups of identical blocks -> keeper mappings -> runs, within a memory budget.
std::vector<SharedRun> plan_runs(const catalog::Catalog& cat, FileAccess& files, const DedupVolOptions& opt,
                                 DedupVolReport& report) {
    std::vector<BlockMapping> mappings;
    std::vector<BlockRef> group;
    const DestinationTest may_modify = [&](std::int64_t f) { return files.may_modify(f); };
    (void)cat.for_each_duplicate_block_group([&](const catalog::Digest&, std::span<const catalog::BlockOccurrence> occ) {
        ++report.duplicate_groups;
        group.clear();
        for (const auto& o : occ) {
            // Only files hashed as shareable: a NOCOW file (state nocow) cannot share with them.
            if (files.shareable(o.file)) group.push_back({o.file, o.index, o.physical});
        }
        if (group.size() < 2) return true;
        map_identical_blocks(group, may_modify, mappings);
        if (mappings.size() < opt.max_mappings) return true;
        report.plan_truncated = true;
        return false;
    });
    std::sort(mappings.begin(), mappings.end());
    auto runs = coalesce_runs(mappings);
    report.runs = runs.size();
    return runs;
}

class RunExecutor {
public:
    RunExecutor(FileAccess& files, const DedupVolOptions& opt, DedupVolReport& report, std::uint32_t block_size,
                lock::FreezeJournal* journal)
        : files_(files), opt_(opt), report_(report), block_(block_size), journal_(journal) {}

    void execute(const SharedRun& run) {
        std::string why;
        OpenedFile* dst = files_.open(run.dst_file, true, why);
        if (dst == nullptr) return skip(run.dst_file, why);
        OpenedFile* src = files_.open(run.src_file, false, why);
        if (src == nullptr) return skip(run.src_file, why);
        const std::uint64_t src_off = run.src_index * block_, dst_off = run.dst_index * block_;
        const auto len = dedupe_length({src_off, dst_off, run.count * block_, static_cast<std::uint64_t>(src->st.st_size),
                                        static_cast<std::uint64_t>(dst->st.st_size)},
                                       block_);
        if (!len) return;
        const AlignedRanges r{src_off, dst_off, len->request};
        const auto states = classify_blocks(read_fiemap(src->fd.get(), src_off, r.length, src->path),
                                            read_fiemap(dst->fd.get(), dst_off, r.length, dst->path), r, block_);
        if (std::all_of(states.begin(), states.end(), [](BlockState s) { return s == BlockState::AlreadyShared; })) {
            report_.bytes_already_shared += r.length;  // converged: nothing to read or call
            return;
        }
        report_.bytes_dedupable += r.length;
        const std::vector<DedupeRequest> request{{0, src_off, dst_off, r.length}};
        const auto calls = batch_requests(request);
        if (opt_.dry_run) {
            report_.dedupe_calls += calls.size();
            return;
        }
        share(*src, *dst, r, calls);
    }

private:
    void share(OpenedFile& src, OpenedFile& dst, const AlignedRanges& r, const std::vector<DedupeCall>& calls) {
        const bool same_file = &src == &dst;
        auto job = lock::make_job_lock(opt_.lock_method, journal_);
        std::vector<lock::LockTarget> targets{{src.fd.get(), src.path}};
        if (!same_file) targets.push_back({dst.fd.get(), dst.path});
        const auto locked = job->lock(targets);
        for (std::size_t i = 0; i < targets.size(); ++i) {
            if (locked.files[i].verdict != lock::LockVerdict::Usable) return skip_path(targets[i].path, locked.files[i].reason);
        }
        warm(src, r.src_offset, r.length);
        warm(dst, r.dst_offset, r.length);
        const std::size_t dst_index = same_file ? 0 : 1;
        for (const DedupeCall& call : calls) {
            if (!job->still_valid(0) || !job->still_valid(dst_index)) {
                return skip_path(dst.path, "written to during the run; left as it was");
            }
            ++report_.dedupe_calls;
            std::vector<DedupeOutcome> out;
            try {
                const lock::DestinationGuard guard = job->guard_destinations(std::span(&dst_index, 1));
                const DedupeTarget t{dst.fd.get(), call.dests[0].dst_offset};
                out = dedupe_range(src.fd.get(), call.src_offset, call.length, std::span(&t, 1), src.path);
            } catch (const SysError& e) {
                return skip_path(dst.path, e.what());
            }
            if (out[0].status == DedupeStatus::Same) {
                const AlignedRanges piece{call.src_offset, call.dests[0].dst_offset, call.length};
                report_.bytes_shared += shared_bytes(read_fiemap(src.fd.get(), piece.src_offset, piece.length, src.path),
                                                     read_fiemap(dst.fd.get(), piece.dst_offset, piece.length, dst.path),
                                                     piece, block_);
            } else if (out[0].status == DedupeStatus::Differs) {
                report_.bytes_changed += call.length;
            } else {
                return skip_path(dst.path, "the kernel refused to share it: " + errno_text(out[0].error));
            }
        }
    }

    // Reads a range once so the kernel's compare finds it in the page cache (~10x faster).
    void warm(OpenedFile& f, std::uint64_t off, std::uint64_t len) {
        buffer_.resize(1u << 20);
        for (std::uint64_t done = 0; done < len;) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer_.size(), len - done));
            if (read_at(f.fd.get(), off + done, std::span(buffer_).first(n), f.path) == 0) break;
            done += n;
        }
    }

    void skip(catalog::FileId id, const std::string& why) {
        const catalog::FileRow* r = files_.row(id);
        skip_path(r ? files_.path_of(*r) : "file #" + std::to_string(id), why);
    }

    void skip_path(const std::string& path, const std::string& why) {
        if (!reported_.insert(path).second) return;
        ++report_.skipped_count;
        if (report_.skipped.size() < kMaxSkippedListed) report_.skipped.push_back({path, why});
    }

    FileAccess& files_;
    const DedupVolOptions& opt_;
    DedupVolReport& report_;
    std::uint64_t block_;
    lock::FreezeJournal* journal_;
    std::vector<std::byte> buffer_;
    std::set<std::string> reported_;
};

}  // namespace

DedupVolReport dedup_vol(const DedupVolOptions& opt, const ScanProgressCallback& progress) {
    DedupVolReport report;
    report.scan = scan_volumes(opt.scan, progress);
    report.lock_method = std::string(lock::to_string(opt.dry_run ? lock::LockMethod::None : opt.lock_method));
    if (report.scan.interrupted) {
        report.interrupted = true;
        return report;
    }
    const UniqueFd root(::open(opt.scan.roots.front().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_errno("open directory", opt.scan.roots.front());
    const FilesystemInfo fs = probe_filesystem(root.get(), opt.scan.roots.front());

    catalog::OpenOptions copt;
    copt.lock_timeout = opt.scan.wait;
    const catalog::Catalog cat = catalog::Catalog::open_writer(report.scan.catalog_path, copt);
    FileAccess files(cat, fs);
    const std::vector<SharedRun> runs = plan_runs(cat, files, opt, report);

    std::unique_ptr<lock::FileFreezeJournal> journal;
    if (!opt.dry_run && opt.lock_method == lock::LockMethod::Immutable) {
        journal = std::make_unique<lock::FileFreezeJournal>(opt.state_dir);
        (void)lock::recover(*journal);
    }
    DedupVolOptions effective = opt;
    if (opt.dry_run) effective.lock_method = lock::LockMethod::None;
    const std::uint64_t free_before = opt.dry_run ? 0 : committed_free_bytes(root.get(), fs.type, opt.scan.roots.front());
    RunExecutor exec(files, effective, report, cat.block_size(), journal.get());
    for (const SharedRun& run : runs) {
        if (interrupt_requested()) {
            report.interrupted = true;
            break;
        }
        exec.execute(run);
    }
    if (!opt.dry_run) {
        const std::uint64_t free_after = committed_free_bytes(root.get(), fs.type, opt.scan.roots.front());
        report.bytes_freed = static_cast<std::int64_t>(free_after) - static_cast<std::int64_t>(free_before);
    }
    return report;
}

}  // namespace rdd
