#include <boost/program_options.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "json_output.hpp"
#include "command_line.hpp"
#include "format.hpp"
#include "kernel_check.hpp"
#include "parse_units.hpp"
#include "reflinkdedup/app/dedup_vol.hpp"
#include "reflinkdedup/app/exit_codes.hpp"
#include "reflinkdedup/app/interrupt.hpp"
#include "reflinkdedup/lock/lock_method.hpp"
#include "scan_options.hpp"
#include "usage_error.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

namespace {

constexpr const char* kHelp = R"(Usage: reflinkdedup dedup-vol [OPTIONS] PATH...

Scan each PATH like scan-vol, then share every run of identical blocks the filesystem's
catalog knows, between any two catalogued files at any block-aligned offsets: identical
files, grown files, files edited in place, data moved by whole blocks. Each run keeps the
copy most others already share (so repeated runs converge: a second run with nothing changed
makes no dedupe calls and reads no data); files in read-only btrfs snapshots are only ever
sources. Every file is checked against its catalog row (inode, generation, size, mtime,
ctime) before use and locked (--lock) while it is shared; the kernel compares the bytes
itself. Contents and metadata never change.

Space: XFS frees every shared block at once. btrfs frees an extent only when no block of it
is referenced any more, so where a file's extent is only partly shared (a grown log, a file
edited in place) the rest of it is first copied into a new extent (a nameless temporary file
on the same filesystem, written through it so compression applies; the file is then deduped
onto the copy, the kernel comparing the bytes), unless another file or a read-only snapshot
also uses the old extent, or the copy would write more than --max-move-ratio bytes per byte
it gives back. Reported: bytes shared (checked with FIEMAP), bytes freed (free space after
sync), and on btrfs the bytes read-only snapshots keep allocated. All-zero blocks that take
space (written zeros, preallocated extents) become holes, deduped from a hole (--keep-zeros
leaves them). --dry-run prints the plan and
the space it expects to free, reading the extent layout only.

Time: with --max-runtime, files that free the most go first and the run stops between files
once the time is spent (at least one file per run; the scan stops too once it has had to
read, keeping what it hashed); the next run goes on where this one stopped.

Exit status: 0 done, 1 some files skipped or failed (listed) or --max-runtime reached,
2 usage or input error (also a btrfs kernel with known dedupe bugs, see
--allow-buggy-kernel), 3 catalog busy, 4 interrupted, 5 system error.

Examples:
  reflinkdedup dedup-vol /mnt/backup
  reflinkdedup dedup-vol --dry-run --json --exclude '*.tmp' /srv/backup

Options)";

nlohmann::json plan_json(const std::vector<PlannedJob>& plan) {
    nlohmann::json jobs = nlohmann::json::array();
    for (const PlannedJob& p : plan) {
        nlohmann::json shares = nlohmann::json::array(), moves = nlohmann::json::array();
        for (const PlannedShare& s : p.shares) {
            shares.push_back({{"source", s.source}, {"src_offset", s.src_offset}, {"dst_offset", s.dst_offset},
                              {"length", s.length}});
        }
        for (const PlannedMove& m : p.moves) moves.push_back({{"offset", m.offset}, {"length", m.length}});
        jobs.push_back({{"path", p.path}, {"share_bytes", p.share_bytes}, {"freed_bytes", p.freed_bytes},
                        {"held_bytes", p.held_bytes}, {"move_bytes", p.move_bytes}, {"hole_bytes", p.hole_bytes},
                        {"shares", shares},
                        {"moves", moves}});
    }
    return jobs;
}

nlohmann::json to_json(const DedupVolReport& r) {
    nlohmann::json j;
    j["command"] = "dedup-vol";
    j["scan"] = scan_report_json(r.scan);
    j["lock"] = r.lock_method;
    j["duplicate_groups"] = r.duplicate_groups;
    j["runs"] = r.runs;
    j["plan_truncated"] = r.plan_truncated;
    j["dedupe_calls"] = r.dedupe_calls;
    j["bytes_already_shared"] = r.bytes_already_shared;
    j["bytes_dedupable"] = r.bytes_dedupable;
    j["bytes_shared"] = r.bytes_shared;
    j["bytes_changed"] = r.bytes_changed;
    j["jobs"] = r.jobs;
    j["jobs_done"] = r.jobs_done;
    j["jobs_left"] = r.jobs_left;
    j["extents_moved"] = r.extents_moved;
    j["bytes_moved"] = r.bytes_moved;
    j["bytes_zero_holes"] = r.bytes_zero_holes;
    j["bytes_read"] = r.bytes_read;
    j["bytes_freed_expected"] = r.bytes_freed_expected;
    j["bytes_held_by_snapshots"] = r.bytes_held_by_snapshots;
    j["bytes_freed"] = r.bytes_freed;
    j["time_budget_reached"] = r.time_budget_reached;
    if (!r.plan.empty()) j["plan"] = plan_json(r.plan);
    j["files_inline"] = r.files_inline;
    j["skipped_count"] = r.skipped_count;
    j["skipped"] = skipped_json(r.skipped);
    j["interrupted"] = r.interrupted;
    return j;
}

void print_text(std::ostream& out, const DedupVolReport& r, bool dry_run) {
    print_scan_text(out, r.scan);
    out << (dry_run ? "dry run: " : "") << r.runs << " duplicate runs in " << r.duplicate_groups << " groups"
        << (r.plan_truncated ? " (plan truncated: the next run goes on)" : "") << "\n"
        << "  already shared  " << iec_bytes(r.bytes_already_shared) << "\n";
    if (dry_run) {
        for (const PlannedJob& p : r.plan) {
            out << "  " << printable(p.path) << ": share " << iec_bytes(p.share_bytes) << " from " << p.shares.size()
                << " ranges, frees " << iec_bytes(p.freed_bytes);
            if (!p.moves.empty()) out << " (moves " << iec_bytes(p.move_bytes) << " to new extents)";
            if (p.hole_bytes > 0) out << ", " << iec_bytes(p.hole_bytes) << " of zeros made holes";
            if (p.held_bytes > 0) out << ", " << iec_bytes(p.held_bytes) << " held by read-only snapshots";
            out << "\n";
        }
        out << "  would share     " << iec_bytes(r.bytes_dedupable) << " in " << r.jobs << " files, "
            << r.dedupe_calls << " dedupe calls\n"
            << "  would move      " << iec_bytes(r.bytes_moved) << " out of " << r.extents_moved
            << " partly shared extents\n"
            << "  would hole      " << iec_bytes(r.bytes_zero_holes) << " of written zeros\n"
            << "  would free      " << iec_bytes(r.bytes_freed_expected) << "\n";
    } else {
        out << "  shared          " << iec_bytes(r.bytes_shared) << " in " << r.dedupe_calls
            << " dedupe calls (verified with FIEMAP)\n"
            << "  moved           " << iec_bytes(r.bytes_moved) << " out of " << r.extents_moved
            << " partly shared extents\n"
            << "  holed           " << iec_bytes(r.bytes_zero_holes) << " of written zeros\n"
            << "  freed           " << iec_bytes(r.bytes_freed) << " (free space after sync; expected "
            << iec_bytes(r.bytes_freed_expected) << ")\n";
        if (r.time_budget_reached) {
            out << "  --max-runtime reached: " << r.jobs_left << " of " << r.jobs << " files left for the next run\n";
        }
    }
    if (r.bytes_held_by_snapshots > 0) {
        out << "  held            " << iec_bytes(r.bytes_held_by_snapshots)
            << " stays allocated: read-only snapshots use it\n";
    }
    if (r.files_inline > 0) {
        out << "  inline          " << r.files_inline << " small btrfs files kept in metadata: nothing to share\n";
    }
    for (const SkippedFile& s : r.skipped) {
        out << "  skipped    " << printable(s.path) << ": " << printable(s.reason) << "\n";
    }
    if (r.skipped_count > r.skipped.size()) out << "  ... and " << r.skipped_count - r.skipped.size() << " more\n";
}

}  // namespace

int run_dedup_vol(const std::vector<std::string>& args) {
    po::options_description opts(kHelp);
    bool json = false, keep_zeros = false, dry_run = false, allow_buggy_kernel = false;
    std::string lock_name, state_dir, max_runtime;
    double max_move_ratio = DedupVolOptions{}.max_move_ratio;
    ScanOptionValues values;
    opts.add_options()("help,h", "show this help");
    add_scan_options(opts, values);
    opts.add_options()
        ("dry-run,n", po::bool_switch(&dry_run), "scan and plan, share nothing")
        ("lock", po::value(&lock_name)->default_value("lease"), "lease, immutable or none (see dedup-files --help)")
        ("state-dir", po::value(&state_dir), "no effect (dedup-vol journals frozen files in its catalog); accepted so that older command lines still run")
        ("max-runtime", po::value(&max_runtime), "time budget (e.g. 30m, 2h): files with the largest savings go first, the run stops between files once it is spent, the next run goes on")
        ("keep-zeros", po::bool_switch(&keep_zeros), "leave all-zero blocks allocated (default: written zeros and preallocated extents become holes)")
        ("max-move-ratio", po::value(&max_move_ratio)->default_value(max_move_ratio),
         "btrfs: move a partly shared extent's rest only if that writes at most this many bytes per byte freed (0: never)")
        ("json", po::bool_switch(&json), "print one JSON object instead of the summary");
    add_kernel_check_option(opts, allow_buggy_kernel);
    const auto operands = parse_command_line("dedup-vol", args, opts);
    if (!operands) return to_int(ExitCode::Done);
    if (operands->empty()) throw UsageError("dedup-vol: needs at least one PATH");
    DedupVolOptions o;
    o.scan = make_scan_options(values, *operands, "dedup-vol");
    o.dry_run = dry_run;
    const auto method = lock::parse_lock_method(lock_name);
    if (!method) throw UsageError("dedup-vol: --lock must be lease, immutable or none");
    o.lock_method = *method;
    if (!max_runtime.empty()) {
        const auto d = parse_duration(max_runtime);
        if (!d || d->count() <= 0) throw UsageError("dedup-vol: --max-runtime wants a duration such as 90s, 30m or 2h");
        o.max_runtime = *d;
    }
    if (!(max_move_ratio >= 0)) throw UsageError("dedup-vol: --max-move-ratio must be 0 or more");
    o.max_move_ratio = max_move_ratio;
    o.zero_holes = !keep_zeros;
    if (!dry_run) check_kernel_for_dedupe(operands->front(), allow_buggy_kernel);

    const InterruptGuard guard;
    o.scan.stop = [] { return interrupt_requested(); };
    return with_catalog_errors([&] {
        DedupVolReport report;
        {
            ProgressLine line;
            report = dedup_vol(o, scan_progress(line));
        }
        if (json) {
            print_json_line(std::cout, to_json(report));
        } else {
            print_text(std::cout, report, dry_run);
        }
        if (report.interrupted) return to_int(ExitCode::Interrupted);
        const bool partial = report.skipped_count > 0 || report.scan.error_count > 0 || report.time_budget_reached;
        return to_int(partial ? ExitCode::Partial : ExitCode::Done);
    });
}

}  // namespace rdd::cli
