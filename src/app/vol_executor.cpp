#include "vol_executor.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>

#include "reflinkdedup/app/interrupt.hpp"
#include "reflinkdedup/clone/dedupe_range.hpp"
#include "reflinkdedup/clone/extent_owners.hpp"
#include "reflinkdedup/clone/range_copy.hpp"
#include "reflinkdedup/fs/fiemap.hpp"
#include "reflinkdedup/lock/job_lock.hpp"
#include "reflinkdedup/plan/block_sharing.hpp"
#include "reflinkdedup/plan/dedupe_batches.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

namespace {

constexpr std::size_t kMaxSkippedListed = 100;

bool overlaps_any(std::span<const ByteRange> ranges, const ByteRange& r) {
    return std::any_of(ranges.begin(), ranges.end(),
                       [&](const ByteRange& x) { return x.offset < r.end() && r.offset < x.end(); });
}

// Under the file's lock, just before writing a copy: does the extent still belong to this file
// alone? Otherwise moving costs the copy and frees nothing.
bool still_private(int fd, const catalog::FileRow& row, std::uint64_t extent, const std::string& path) {
    try {
        const auto refs = extent_references(fd, extent, path);
        return classify_owners(refs, row.identity.subvol, row.identity.ino, [](std::uint64_t) { return false; }) ==
               ExtentOwners::ThisFile;
    } catch (const SysError&) {
        return false;  // gone (ENOENT: the file changed) or not allowed: leave it
    }
}

}  // namespace

JobExecutor::JobExecutor(FileAccess& files, JobPlan& plan, lock::LockMethod method, lock::FreezeJournal* journal,
                         RetryList& retry, std::uint32_t block_size, bool zero_holes, DedupVolReport& report)
    : files_(files), plan_(plan), method_(method), journal_(journal), retry_(retry), block_(block_size),
      zero_holes_(zero_holes), report_(report) {}

void JobExecutor::run(VolJob& job) {
    try {
        run_job(job);
    } catch (const SysError& e) {  // a file vanished or could not be read meanwhile: that job only
        skip(job.file, e.what());
    }
}

void JobExecutor::run_job(VolJob& job) {
    files_.trim();
    // Remainders this job's pieces would share come first: shared before they move, the old
    // extent would stay referenced by this file.
    for (const SharePiece& p : job.pieces) {
        VolJob* owner = p.src_file == job.file ? nullptr : find_job(plan_, p.src_file);
        if (owner == nullptr) continue;
        for (ExtentMove& m : owner->moves) {
            if (!m.done && overlaps_any(m.ranges, {p.src_offset, p.length})) move(*owner, m);
        }
    }
    for (ExtentMove& m : job.moves) move(job, m);
    for (const SharePiece& p : job.pieces) {
        if (interrupt_requested()) return;
        share(job.file, p);
    }
    if (!job.holes.empty() && !interrupt_requested()) make_holes(job);
    job.pieces_done = true;
    ++report_.jobs_done;
}

std::vector<catalog::FileId> JobExecutor::take_relocated() {
    std::vector<catalog::FileId> out;
    for (const catalog::FileId f : relocated_) {
        if (moves_undone_[f] == 0) out.push_back(f);
    }
    relocated_.clear();
    moves_undone_.clear();
    return out;
}

void JobExecutor::move(VolJob& owner, ExtentMove& m) {
    if (m.done || interrupt_requested()) return;
    m.done = true;
    ++moves_undone_[owner.file];  // until it is done
    const std::vector<catalog::FileId> ids{owner.file};
    OpenedFile* f = nullptr;
    const auto job = lock_alone(owner.file, f);
    if (!job) return;
    if (!still_private(f->fd.get(), *files_.row(owner.file), m.extent, f->path)) return;

    std::optional<RangeCopy> copy;
    try {
        const std::string dir = files_.scratch_dir(f->path);
        copy.emplace(copy_pieces(f->fd.get(), f->path, m.pieces, static_cast<std::uint64_t>(f->st.st_size), dir,
                                 files_.filesystem().block_size, zero_holes_));
    } catch (const SysError& e) {
        if (e.err() == ENOSPC || e.err() == EDQUOT) {
            return skip_path(f->path, "no room to move the rest of a partly shared extent (" + errno_text(e.err()) +
                                          "); left as it was");
        }
        return skip_path(f->path, e.what());
    }
    report_.bytes_read += copy->bytes_read();
    std::vector<DedupeRequest> requests;
    for (const CopiedRange& c : copy->ranges()) requests.push_back({0, c.copy_offset, c.file_offset, c.length});
    const std::size_t index = 0;
    for (const DedupeCall& call : batch_requests(requests)) {
        if (!retry_.still_locked(*job, ids)) return skip_path(f->path, "written to during the run; left as it was");
        ++report_.dedupe_calls;
        std::vector<DedupeOutcome> out;
        try {
            const lock::DestinationGuard guard = job->guard_destinations(std::span(&index, 1));
            // Several places of the file may use the same copied bytes (one call, several dests).
            std::vector<DedupeTarget> targets;
            for (const DedupeDest& d : call.dests) targets.push_back({f->fd.get(), d.dst_offset});
            out = dedupe_range(copy->fd(), call.src_offset, call.length, targets, "scratch copy of " + f->path);
        } catch (const SysError& e) {
            return skip_path(f->path, e.what());
        }
        for (const DedupeOutcome& o : out) {
            if (o.status == DedupeStatus::Differs) {
                report_.bytes_changed += call.length;
                return;
            }
            if (o.status == DedupeStatus::Failed) {
                return skip_path(f->path, "the kernel refused to move it: " + errno_text(o.error));
            }
        }
    }
    retry_.done(ids);
    --moves_undone_[owner.file];
    relocated_.push_back(owner.file);
    ++report_.extents_moved;
    report_.bytes_moved += copy->bytes_written();
}

void JobExecutor::share(catalog::FileId dst_file, const SharePiece& piece) {
    files_.trim(dst_file);
    std::string why;
    OpenedFile* dst = files_.open(dst_file, true, why);
    if (dst == nullptr) return skip(dst_file, why);
    OpenedFile* src = files_.open(piece.src_file, false, why);
    if (src == nullptr) return skip(piece.src_file, why);
    const AlignedRanges r{piece.src_offset, piece.dst_offset, piece.length};
    const auto states = classify_blocks(read_fiemap(src->fd.get(), r.src_offset, r.length, src->path),
                                        read_fiemap(dst->fd.get(), r.dst_offset, r.length, dst->path), r, block_);
    if (std::all_of(states.begin(), states.end(), [](BlockState s) { return s == BlockState::AlreadyShared; })) {
        report_.bytes_already_shared += r.length;
        return;
    }
    report_.bytes_dedupable += r.length;

    const bool same_file = src == dst;
    const std::vector<catalog::FileId> ids =
        same_file ? std::vector{piece.src_file} : std::vector{piece.src_file, dst_file};
    auto job = lock::make_job_lock(method_, journal_);
    std::vector<lock::LockTarget> targets{{src->fd.get(), src->path}};
    if (!same_file) targets.push_back({dst->fd.get(), dst->path});
    const auto locked = job->lock(targets);
    retry_.note_lock(ids, locked);  // busy files: on the retry list
    for (std::size_t i = 0; i < targets.size(); ++i) {
        if (locked.files[i].verdict != lock::LockVerdict::Usable) return skip_path(targets[i].path, locked.files[i].reason);
    }
    warm(*src, r.src_offset, r.length);
    warm(*dst, r.dst_offset, r.length);
    const std::size_t dst_index = same_file ? 0 : 1;
    const std::vector<DedupeRequest> request{{0, r.src_offset, r.dst_offset, r.length}};
    for (const DedupeCall& call : batch_requests(request)) {
        if (!retry_.still_locked(*job, ids)) return skip_path(dst->path, "written to during the run; left as it was");
        ++report_.dedupe_calls;
        std::vector<DedupeOutcome> out;
        try {
            const lock::DestinationGuard guard = job->guard_destinations(std::span(&dst_index, 1));
            const DedupeTarget t{dst->fd.get(), call.dests[0].dst_offset};
            out = dedupe_range(src->fd.get(), call.src_offset, call.length, std::span(&t, 1), src->path);
        } catch (const SysError& e) {
            return skip_path(dst->path, e.what());
        }
        if (out[0].status == DedupeStatus::Same) {
            if (relocated_.empty() || relocated_.back() != dst_file) relocated_.push_back(dst_file);
            const AlignedRanges done{call.src_offset, call.dests[0].dst_offset, call.length};
            report_.bytes_shared += shared_bytes(read_fiemap(src->fd.get(), done.src_offset, done.length, src->path),
                                                 read_fiemap(dst->fd.get(), done.dst_offset, done.length, dst->path),
                                                 done, block_);
        } else if (out[0].status == DedupeStatus::Differs) {
            report_.bytes_changed += call.length;
        } else {
            return skip_path(dst->path, "the kernel refused to share it: " + errno_text(out[0].error));
        }
    }
    retry_.done(ids);
}

std::unique_ptr<lock::JobLock> JobExecutor::lock_alone(catalog::FileId file, OpenedFile*& f) {
    files_.trim(file);
    std::string why;
    f = files_.open(file, true, why);
    if (f == nullptr) {
        skip(file, why);
        return nullptr;
    }
    auto lock = lock::make_job_lock(method_, journal_);
    const lock::LockTarget target{f->fd.get(), f->path};
    const auto locked = lock->lock(std::span(&target, 1));
    retry_.note_lock(std::span(&file, 1), locked);
    if (locked.files[0].verdict != lock::LockVerdict::Usable) {
        skip_path(f->path, locked.files[0].reason);
        return nullptr;
    }
    return lock;
}

void JobExecutor::make_holes(const VolJob& job) {
    const std::vector<catalog::FileId> ids{job.file};
    OpenedFile* f = nullptr;
    const auto lock = lock_alone(job.file, f);
    if (!lock) return;
    const UniqueFd hole = open_scratch_file(files_.scratch_dir(f->path));
    std::vector<DedupeRequest> requests;
    for (const ByteRange& h : job.holes) requests.push_back({0, 0, h.offset, h.length});
    const std::size_t index = 0;
    for (const DedupeCall& call : batch_requests(requests)) {
        if (!retry_.still_locked(*lock, ids)) return skip_path(f->path, "written to during the run; left as it was");
        // The source range ends at the scratch file's EOF: a partial last block of the file
        // is then deduped too (both ranges end at EOF). Sized up from 0: growing a file from
        // an unaligned size writes zeros into its last block, which would be a real extent.
        if (::ftruncate(hole.get(), 0) != 0 ||
            ::ftruncate(hole.get(), static_cast<off_t>(call.src_offset + call.length)) != 0) {
            return skip_path(f->path, "cannot size the scratch file: " + errno_text(errno));
        }
        std::vector<DedupeTarget> targets;
        for (const DedupeDest& d : call.dests) targets.push_back({f->fd.get(), d.dst_offset});
        ++report_.dedupe_calls;
        std::vector<DedupeOutcome> out;
        try {
            const lock::DestinationGuard guard = lock->guard_destinations(std::span(&index, 1));
            out = dedupe_range(hole.get(), call.src_offset, call.length, targets, "scratch hole for " + f->path);
        } catch (const SysError& e) {
            return skip_path(f->path, e.what());
        }
        for (std::size_t i = 0; i < out.size(); ++i) {
            if (out[i].status == DedupeStatus::Differs) report_.bytes_changed += call.length;
            if (out[i].status == DedupeStatus::Failed) {
                return skip_path(f->path, "the kernel refused to make a hole: " + errno_text(out[i].error));
            }
            if (out[i].status != DedupeStatus::Same) continue;
            std::uint64_t allocated = 0;  // what is still allocated there (verified, not assumed)
            const std::uint64_t begin = targets[i].offset, end = begin + call.length;
            for (const Extent& e : read_fiemap(f->fd.get(), begin, call.length, f->path)) {
                if (!e.has_address()) continue;
                allocated += std::min(end, e.end()) - std::max(begin, e.logical);
            }
            report_.bytes_zero_holes += call.length - std::min(call.length, allocated);
        }
    }
    retry_.done(ids);
}

// Reads a range once so the kernel's compare finds it in the page cache (~10x faster).
void JobExecutor::warm(OpenedFile& f, std::uint64_t off, std::uint64_t len) {
    buffer_.resize(1u << 20);
    for (std::uint64_t done = 0; done < len;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer_.size(), len - done));
        const std::size_t got = read_at(f.fd.get(), off + done, std::span(buffer_).first(n), f.path);
        report_.bytes_read += got;
        if (got < n) break;
        done += n;
    }
}

void JobExecutor::skip(catalog::FileId file, const std::string& why) { skip_path(files_.path_of(file), why); }

void JobExecutor::skip_path(const std::string& path, const std::string& why) {
    if (!reported_.insert(path).second) return;
    ++report_.skipped_count;
    if (report_.skipped.size() < kMaxSkippedListed) report_.skipped.push_back({path, why});
}

}  // namespace rdd
