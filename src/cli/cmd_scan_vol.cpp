#include <boost/program_options.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "json_output.hpp"
#include "command_line.hpp"
#include "scan_options.hpp"
#include "progress_line.hpp"
#include "reflinkdedup/app/exit_codes.hpp"
#include "reflinkdedup/app/interrupt.hpp"
#include "reflinkdedup/scan/scan_volumes.hpp"
#include "usage_error.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

namespace {

constexpr const char* kHelp = R"(Usage: reflinkdedup scan-vol [OPTIONS] PATH...

Record every regular file under each PATH (directories on one btrfs or XFS-with-reflink
filesystem) in that filesystem's catalog, with XXH3-128 digests of its blocks. A file is read
again only when its (inode, generation, size, mtime) changed, or its ctime changed and its
blocks no longer lie where they were (a rename or chmod costs no read); holes are never read.
Files that are gone leave the catalog. Symlinks are never followed; other filesystems, btrfs
subvolumes below PATH and special files are not entered.

The catalog (SQLite, mode 0600) is /var/lib/reflinkdedup/<filesystem-uuid>.sqlite unless
--db says otherwise. One process writes it at a time.

Exit status:
  0  done
  1  done, but some files could not be read (listed)
  2  usage or input error (bad option, not btrfs/XFS with reflink, paths on different
     filesystems, catalog from a newer version or with another block size)
  3  another reflinkdedup holds the catalog (after --wait)
  4  interrupted (SIGINT/SIGTERM); what was hashed is kept, deletions wait for a full scan
  5  an unexpected system error, or a damaged catalog

Examples:
  reflinkdedup scan-vol /mnt/backup
  reflinkdedup scan-vol --exclude '*.tmp' --exclude /proc --min-size 64K --json /srv

Options)";

}  // namespace

int run_scan_vol(const std::vector<std::string>& args) {
    po::options_description opts(kHelp);
    bool json = false;
    ScanOptionValues values;
    opts.add_options()("help,h", "show this help");
    add_scan_options(opts, values);
    opts.add_options()("json", po::bool_switch(&json), "print one JSON object instead of the summary");
    const auto operands = parse_command_line("scan-vol", args, opts);
    if (!operands) return to_int(ExitCode::Done);
    if (operands->empty()) throw UsageError("scan-vol: needs at least one PATH");
    ScanOptions o = make_scan_options(values, *operands, "scan-vol");

    const InterruptGuard guard;
    o.stop = [] { return interrupt_requested(); };
    return with_catalog_errors([&] {
        ScanReport report;
        {
            ProgressLine line;
            report = scan_volumes(o, scan_progress(line));
        }
        if (json) {
            print_json_line(std::cout, scan_report_json(report));
        } else {
            print_scan_text(std::cout, report);
        }
        if (report.interrupted) return to_int(ExitCode::Interrupted);
        return to_int(report.error_count > 0 ? ExitCode::Partial : ExitCode::Done);
    });
}

}  // namespace rdd::cli
