#include "reflinkdedup/app/dedup_vol.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <memory>

#include "block_refresh.hpp"
#include "file_access.hpp"
#include "reflinkdedup/app/catalog_freeze_journal.hpp"
#include "reflinkdedup/app/input_error.hpp"
#include "reflinkdedup/app/interrupt.hpp"
#include "reflinkdedup/app/retry_list.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/run_log.hpp"
#include "reflinkdedup/fs/free_space.hpp"
#include "reflinkdedup/plan/block_groups.hpp"
#include "reflinkdedup/plan/job_order.hpp"
#include "reflinkdedup/plan/kernel_limits.hpp"
#include "reflinkdedup/plan/runs.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "vol_executor.hpp"
#include "vol_jobs.hpp"

namespace rdd {

namespace {

using Clock = std::chrono::steady_clock;

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

// Largest expected savings first (a time budget buys the most space); files busy last time go
// before all others, they already waited a run.
std::vector<std::size_t> job_order(const JobPlan& plan, const RetryList& retry) {
    std::vector<JobValue> values;
    for (const VolJob& j : plan.jobs) values.push_back({j.freed_bytes, j.share_bytes, j.file});
    std::vector<std::size_t> order = savings_order(values);
    (void)std::stable_partition(order.begin(), order.end(), [&](std::size_t i) {
        const VolJob& j = plan.jobs[i];
        return retry.listed(j.file) ||
               std::any_of(j.pieces.begin(), j.pieces.end(), [&](const SharePiece& p) { return retry.listed(p.src_file); });
    });
    return order;
}

std::uint64_t calls_for(std::uint64_t length) { return (length + kMaxDedupeBytes - 1) / kMaxDedupeBytes; }

// A dry run's report: the jobs in the order a real run would take them, the calls they make.
void describe_plan(const JobPlan& plan, std::span<const std::size_t> order, FileAccess& files, DedupVolReport& report) {
    for (const std::size_t i : order) {
        const VolJob& job = plan.jobs[i];
        PlannedJob out{files.path_of(job.file), job.share_bytes, job.freed_bytes, job.held_bytes, job.write_bytes,
                       job.hole_bytes, {}, {}};
        for (const SharePiece& p : job.pieces) {
            out.shares.push_back({files.path_of(p.src_file), p.src_offset, p.dst_offset, p.length});
            report.dedupe_calls += calls_for(p.length);
        }
        for (const ExtentMove& m : job.moves) {
            for (const ByteRange& r : m.ranges) {
                out.moves.push_back({r.offset, r.length});
                report.dedupe_calls += calls_for(r.length);
            }
        }
        report.extents_moved += job.moves.size();
        report.bytes_zero_holes += job.hole_bytes;
        for (const ByteRange& h : job.holes) report.dedupe_calls += calls_for(h.length);
        report.bytes_dedupable += job.share_bytes;
        report.bytes_moved += job.write_bytes;
        report.plan.push_back(std::move(out));
    }
}

// How a real run ended, for the run log.
std::string run_outcome(const DedupVolReport& r) {
    if (r.interrupted) return "interrupted";
    if (r.time_budget_reached) return "time budget reached";
    if (r.plan_truncated || r.skipped_count > 0) return "partial";
    return "done";
}

}  // namespace

DedupVolReport dedup_vol(const DedupVolOptions& opt, const ScanProgressCallback& progress) {
    const auto started = Clock::now();
    const std::int64_t started_unix = std::time(nullptr);
    const auto out_of_time = [&] { return opt.max_runtime.count() > 0 && Clock::now() - started >= opt.max_runtime; };
    DedupVolReport report;
    if (!opt.dry_run && !opt.scan.roots.empty()) {  // refused before a scan that would be for nothing
        const UniqueFd first(::open(opt.scan.roots.front().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (first && probe_filesystem(first.get(), opt.scan.roots.front()).read_only) {
            throw InputError(opt.scan.roots.front() + ": the filesystem is mounted read-only");
        }
    }
    // The budget stops the scan too (it keeps what it hashed), but only once it reads something:
    // a scan of unchanged files always completes, so every run gets to share something.
    bool scan_reads = false;
    const ScanProgressCallback watch = [&](const ScanProgress& p) {
        scan_reads = scan_reads || p.bytes_queued > 0 || p.files_hashed > 0;
        if (progress) progress(p);
    };
    ScanOptions scan = opt.scan;
    scan.stop = [&] { return (opt.scan.stop && opt.scan.stop()) || (scan_reads && out_of_time()); };
    report.scan = scan_volumes(scan, watch);
    report.lock_method = std::string(lock::to_string(opt.dry_run ? lock::LockMethod::None : opt.lock_method));
    if (report.scan.interrupted) {
        // A scan cut short records what it did; the next run goes on from there.
        (interrupt_requested() || !out_of_time() ? report.interrupted : report.time_budget_reached) = true;
        return report;
    }
    const UniqueFd root(::open(opt.scan.roots.front().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_errno("open directory", opt.scan.roots.front());
    const FilesystemInfo fs = probe_filesystem(root.get(), opt.scan.roots.front());

    catalog::OpenOptions copt;
    copt.lock_timeout = opt.scan.wait;
    catalog::Catalog cat = catalog::Catalog::open_writer(report.scan.catalog_path, copt);
    FileAccess files(cat, fs, opt.scan.ro_snapshots == RoSnapshots::dedupe);
    std::vector<SharedRun> runs = plan_runs(cat, files, opt, report);
    RetryList retry(cat);

    // --lock=immutable journals in the catalog (fsynced before each freeze); open_writer has
    // already repaired what a run that died left there (when the program installed the hook).
    std::unique_ptr<CatalogFreezeJournal> journal;
    if (!opt.dry_run && opt.lock_method == lock::LockMethod::Immutable) {
        (void)repair_dead_freezes(cat);
        journal = std::make_unique<CatalogFreezeJournal>(cat);
    }
    JobPlan plan;
    JobExecutor exec(files, plan, opt.dry_run ? lock::LockMethod::None : opt.lock_method, journal.get(), retry,
                     cat.block_size(), opt.zero_holes, report);
    JobPlanOptions jopt;
    jopt.release.moves = opt.max_move_ratio > 0;
    jopt.release.max_write_per_freed = opt.max_move_ratio;
    jopt.holes = opt.zero_holes;
    jopt.fs_fd = root.get();
    jopt.fs_path = opt.scan.roots.front();
    // Data still in the page cache has no extent yet (FIEMAP says "delalloc"): write it back,
    // so that the plan, and a dry run's prediction, see where everything lies.
    if (::syncfs(root.get()) != 0) throw_errno("syncfs", opt.scan.roots.front());
    plan = build_jobs(runs, files, cat, jopt, [&](catalog::FileId f, const std::string& why) { exec.skip(f, why); });
    runs = {};
    report.jobs = plan.jobs.size();
    report.files_inline = files.inline_files();
    report.bytes_already_shared = plan.bytes_already_shared;
    for (const VolJob& j : plan.jobs) {
        report.bytes_freed_expected += j.freed_bytes;
        report.bytes_held_by_snapshots += j.held_bytes;
    }
    const std::vector<std::size_t> order = job_order(plan, retry);
    if (opt.dry_run) describe_plan(plan, order, files, report);

    const std::uint64_t free_before = opt.dry_run ? 0 : committed_free_bytes(root.get(), fs.type, opt.scan.roots.front());
    for (std::size_t k = 0; k < order.size() && !opt.dry_run; ++k) {
        if (interrupt_requested()) break;
        if (k > 0 && out_of_time()) {  // between jobs (no file left half done); one job at least
            report.time_budget_reached = true;
            report.jobs_left = order.size() - k;
            break;
        }
        exec.run(plan.jobs[order[k]]);
        const std::vector<catalog::FileId> moved = exec.take_relocated();
        refresh_block_addresses(cat, files, {moved.begin(), moved.end()});
    }
    report.interrupted = interrupt_requested();
    retry.finish(!opt.dry_run && !report.interrupted && !report.plan_truncated && !report.time_budget_reached);
    if (!opt.dry_run) {
        const std::uint64_t free_after = committed_free_bytes(root.get(), fs.type, opt.scan.roots.front());
        report.bytes_freed = static_cast<std::int64_t>(free_after) - static_cast<std::int64_t>(free_before);
        catalog::record_run(cat, {started_unix, std::time(nullptr), "dedup-vol", run_outcome(report), report.bytes_shared,
                                  report.bytes_freed, report.dedupe_calls, report.skipped_count});
    }
    return report;
}

}  // namespace rdd
