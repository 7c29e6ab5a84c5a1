#include <boost/program_options.hpp>
#include <iostream>

#include "command.hpp"
#include "command_line.hpp"
#include "dedup_files_output.hpp"
#include "kernel_check.hpp"
#include "reflinkdedup/app/dedup_files.hpp"
#include "reflinkdedup/app/exit_codes.hpp"
#include "reflinkdedup/app/input_error.hpp"
#include "reflinkdedup/app/interrupt.hpp"
#include "reflinkdedup/lock/lock_method.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "usage_error.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

namespace {

constexpr const char* kHelp = R"(Usage: reflinkdedup dedup-files [OPTIONS] SOURCE DEST...

Share every identical block-aligned range between SOURCE and each DEST at the same offset,
with FIDEDUPERANGE (the kernel compares the bytes itself; nothing differing is ever shared).
Identical files share everything; a DEST that is SOURCE plus appended data shares the common
prefix; a DEST edited in a few blocks shares all the rest. Contents, mode, owner, timestamps,
xattrs and attribute flags are never changed. All files must be on one btrfs or XFS
(reflink=1) filesystem. Directories, symlinks, special files, NOCOW, immutable and btrfs
inline files, files in read-only snapshots and second hard links are reported and
left alone.

Locking (--lock): files are kept from writers between comparing and sharing.
  lease      (default) a read lease on each file: a file someone writes or maps writable is
             skipped; a writer that opens a file meanwhile waits a moment while we stop
             working on that file. Changes nothing, leaves nothing behind after a crash.
  immutable  the immutable flag (journaled first under /var/lib/reflinkdedup and put back
             after a crash by the next run or 'reflinkdedup recover'), then a /proc check for
             writers that were already there. New writers are refused outright. Setting and
             clearing the flag changes each file's ctime.
  none       no locking; the kernel still compares the bytes itself, so nothing differing
             is ever shared.

On btrfs, kernels with a known btrfs corruption bug that dedupe runs into (5.1 to 5.4.13;
older ones without the 2019 fix for shared compressed extents) are refused unless
--allow-buggy-kernel is given; --dry-run is always allowed.

Exit status:
  0  done (also when there was nothing to share)
  1  done, but some files were skipped or failed (listed)
  2  usage or input error, or a refused kernel: nothing was changed
  4  interrupted (SIGINT/SIGTERM) after the current kernel call
  5  an unexpected system error stopped the run

Examples:
  reflinkdedup dedup-files /backup/a/disk.img /backup/b/disk.img
  reflinkdedup dedup-files --json --dry-run big.log big.log.1

Options)";

}  // namespace

int run_dedup_files(const std::vector<std::string>& args) {
    po::options_description opts(kHelp);
    bool json = false, dry_run = false, allow_buggy_kernel = false;
    std::string lock_name, state_dir;
    opts.add_options()
        ("help,h", "show this help")
        ("json", po::bool_switch(&json), "print one JSON object instead of the summary")
        ("dry-run,n", po::bool_switch(&dry_run), "compare and report, change nothing")
        ("lock", po::value(&lock_name)->default_value("lease"), "lease, immutable or none (see above)")
        ("state-dir", po::value(&state_dir), "where --lock=immutable journals flags (default /var/lib/reflinkdedup)");
    add_kernel_check_option(opts, allow_buggy_kernel);
    const auto operands = parse_command_line("dedup-files", args, opts);
    if (!operands) return to_int(ExitCode::Done);
    DedupFilesOptions options;
    options.paths = *operands;
    if (options.paths.size() < 2) throw UsageError("dedup-files: needs SOURCE and at least one DEST");
    options.dry_run = dry_run;
    const auto method = lock::parse_lock_method(lock_name);
    if (!method) throw UsageError("dedup-files: --lock must be lease, immutable or none");
    options.lock_method = *method;
    if (!state_dir.empty()) options.state_dir = state_dir;
    if (!dry_run) check_kernel_for_dedupe(options.paths.front(), allow_buggy_kernel);

    const InterruptGuard guard;
    const DedupFilesReport report = dedup_files(options);
    if (json) {
        print_json(std::cout, report);
    } else {
        print_text(std::cout, report);
    }
    if (report.interrupted) return to_int(ExitCode::Interrupted);
    return to_int(report.skipped.empty() ? ExitCode::Done : ExitCode::Partial);
}

}  // namespace rdd::cli
