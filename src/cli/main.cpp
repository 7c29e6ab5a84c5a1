// reflinkdedup: command dispatch and the mapping of failures to exit codes. All logic lives in
// the library; this file only turns argv into a command and errors into one line on stderr.
#include <iostream>
#include <string>
#include <vector>

#include "command.hpp"
#include "freeze_repair.hpp"
#include "output.hpp"
#include "reflinkdedup/app/exit_codes.hpp"
#include "reflinkdedup/app/input_error.hpp"
#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/lock/lease_signal.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "usage_error.hpp"

namespace {

void print_usage(std::ostream& out) {
    out << "Usage: reflinkdedup COMMAND [OPTIONS] [ARGS]\n"
           "       reflinkdedup --version\n\n"
           "Offline in-place deduplication for btrfs and XFS (reflink=1): identical data is\n"
           "shared with FIDEDUPERANGE, every file keeps its own inode and metadata.\n\nCommands:\n";
    for (const auto& c : rdd::cli::commands()) {
        out << "  " << c.name << std::string(14 - c.name.size(), ' ') << c.summary << "\n";
    }
    out << R"(
'reflinkdedup COMMAND --help' describes a command, its options and examples.

Every command also takes --config PATH, -v (--verbose) and -q (--quiet). Option defaults
come from /etc/reflinkdedup.conf when it exists ("name = value" lines with the long option
names, e.g. "lock = immutable", "exclude = *.tmp"); the command line wins.

Messages go to stderr; under systemd (stderr is the journal, JOURNAL_STREAM) each line starts
with its syslog priority (<3> error, <4> warning, <6> info, <7> debug). Live progress is
shown on a terminal only.

Exit status (every command; each --help lists those it uses):
  0  done (also: nothing to do)
  1  done in part: some files were skipped or failed (listed)
  2  usage or input error, nothing changed (bad option, bad path or configuration file,
     not btrfs/XFS with reflink, a btrfs kernel with known dedupe bugs)
  3  another reflinkdedup holds the catalog or the freeze journal
  4  interrupted by SIGINT or SIGTERM (after finishing the current kernel call)
  5  an unexpected system error, or a damaged catalog

Examples:
  reflinkdedup dedup-vol /mnt/backup         # scan what changed, share duplicates
  reflinkdedup report /mnt/backup            # what the catalog knows and what is left
  systemctl enable --now reflinkdedup@$(systemd-escape --path /mnt/backup).timer
)";
}

int dispatch(const std::vector<std::string>& argv) {
    using rdd::ExitCode;
    if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
        print_usage(argv.empty() ? std::cerr : std::cout);
        return rdd::to_int(argv.empty() ? ExitCode::InputError : ExitCode::Done);
    }
    if (argv[0] == "--version" || argv[0] == "-V") {
        std::cout << "reflinkdedup " RDD_VERSION "\n";
        return rdd::to_int(ExitCode::Done);
    }
    for (const auto& c : rdd::cli::commands()) {
        if (c.name == argv[0]) return c.run({argv.begin() + 1, argv.end()});
    }
    std::string msg = (argv[0].starts_with("-") ? "expected a command before '" : "unknown command '") + argv[0] + "'";
    if (const auto s = rdd::cli::suggest_command(argv[0]); !s.empty()) msg += "; did you mean '" + s + "'?";
    throw rdd::cli::UsageError(msg);
}

}  // namespace

int main(int argc, char** argv) {
    using rdd::ExitCode;
    using rdd::cli::log_error;
    rdd::cli::init_output();
    // Lease-break signals are read from a signalfd: block them before any thread starts, so
    // no thread can be killed by one or swallow it.
    const rdd::lock::LeaseSignalBlock lease_signals;
    // Every command that opens a catalog for writing first repairs freezes of dead runs.
    const rdd::catalog::ScopedWriterOpenHook freeze_repair(rdd::cli::freeze_repair_hook());
    try {
        return dispatch({argv + 1, argv + argc});
    } catch (const rdd::cli::UsageError& e) {
        log_error(std::string(e.what()) + " (see 'reflinkdedup --help')");
        return rdd::to_int(ExitCode::InputError);
    } catch (const rdd::InputError& e) {
        log_error(e.what());
        return rdd::to_int(ExitCode::InputError);
    } catch (const rdd::SysError& e) {
        log_error(e.what());
        return rdd::to_int(ExitCode::Failure);
    } catch (const rdd::catalog::SchemaTooNewError& e) {
        log_error(e.what());  // written by a newer reflinkdedup: left alone
        return rdd::to_int(ExitCode::InputError);
    } catch (const rdd::catalog::CatalogError& e) {
        log_error(e.what());  // a damaged or foreign catalog: its message names the file
        return rdd::to_int(ExitCode::Failure);
    } catch (const std::exception& e) {
        log_error(std::string("internal error: ") + e.what());
        return rdd::to_int(ExitCode::Failure);
    }
}
