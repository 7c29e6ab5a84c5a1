#include <boost/program_options.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "json_output.hpp"
#include "command_line.hpp"
#include "format.hpp"
#include "kernel_check.hpp"
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

Not yet: moving the unshared tail of a btrfs extent so that the extent is freed ("bookend"
extents, see the README); until then a grown file's shared prefix frees space on XFS only.

Exit status: 0 done, 1 some files skipped or failed (listed), 2 usage or input error (also
a btrfs kernel with known dedupe bugs, see --allow-buggy-kernel), 3 catalog busy,
4 interrupted, 5 system error.

Examples:
  reflinkdedup dedup-vol /mnt/backup
  reflinkdedup dedup-vol --dry-run --json --exclude '*.tmp' /srv/backup

Options)";

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
    j["bytes_freed"] = r.bytes_freed;
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
        out << "  would share     " << iec_bytes(r.bytes_dedupable) << " in " << r.dedupe_calls << " dedupe calls\n";
    } else {
        out << "  shared          " << iec_bytes(r.bytes_shared) << " in " << r.dedupe_calls
            << " dedupe calls (verified with FIEMAP)\n"
            << "  freed           " << iec_bytes(r.bytes_freed) << " (free space after sync)\n";
    }
    for (const SkippedFile& s : r.skipped) out << "  skipped    " << s.path << ": " << s.reason << "\n";
    if (r.skipped_count > r.skipped.size()) out << "  ... and " << r.skipped_count - r.skipped.size() << " more\n";
}

}  // namespace

int run_dedup_vol(const std::vector<std::string>& args) {
    po::options_description opts(kHelp);
    bool json = false, dry_run = false, allow_buggy_kernel = false;
    std::string lock_name, state_dir;
    ScanOptionValues values;
    opts.add_options()("help,h", "show this help");
    add_scan_options(opts, values);
    opts.add_options()
        ("dry-run,n", po::bool_switch(&dry_run), "scan and plan, share nothing")
        ("lock", po::value(&lock_name)->default_value("lease"), "lease, immutable or none (see dedup-files --help)")
        ("state-dir", po::value(&state_dir), "where --lock=immutable journals flags (default /var/lib/reflinkdedup)")
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
    if (!state_dir.empty()) o.state_dir = state_dir;
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
        const bool partial = report.skipped_count > 0 || report.scan.error_count > 0;
        return to_int(partial ? ExitCode::Partial : ExitCode::Done);
    });
}

}  // namespace rdd::cli
