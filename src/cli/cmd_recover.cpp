#include <boost/program_options.hpp>
#include <cerrno>
#include <iostream>
#include <optional>

#include "command.hpp"
#include "command_line.hpp"
#include "reflinkdedup/app/exit_codes.hpp"
#include "reflinkdedup/lock/file_freeze_journal.hpp"
#include "reflinkdedup/lock/recover.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "usage_error.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

namespace {

constexpr const char* kHelp = R"(Usage: reflinkdedup recover [OPTIONS]

Put back the attribute flags of files that a run with --lock=immutable froze and could not
thaw (it was killed, or the machine went down). Every such run journals each file's identity
and original flags before touching it; a later run does this repair by itself before it
starts, this command does it on request. A file is only touched if it is still the same inode
(number and generation) that was frozen.

Exit status:
  0  nothing was pending, or every file got its flags back
  1  some entries could not be repaired (listed; they stay in the journal)
  3  another reflinkdedup is running and holds the journal
  5  an unexpected system error

Options)";

}  // namespace

int run_recover(const std::vector<std::string>& args) {
    po::options_description opts(kHelp);
    std::string state_dir = "/var/lib/reflinkdedup";
    opts.add_options()
        ("help,h", "show this help")
        ("state-dir", po::value(&state_dir), "where the journal lives (default /var/lib/reflinkdedup)");
    const auto operands = parse_command_line("recover", args, opts);
    if (!operands) return to_int(ExitCode::Done);
    if (!operands->empty()) throw UsageError("recover: takes no operands");
    std::optional<lock::FileFreezeJournal> journal;
    try {
        journal.emplace(state_dir);
    } catch (const SysError& e) {
        if (e.err() != EWOULDBLOCK) throw;
        std::cerr << "reflinkdedup: " << state_dir << ": another reflinkdedup holds the freeze journal\n";
        return to_int(ExitCode::CatalogBusy);
    }
    const auto items = lock::recover(*journal);
    bool all_done = true;
    for (const lock::RecoverItem& r : items) {
        const bool done = r.outcome == lock::RecoverOutcome::Restored ||
                          r.outcome == lock::RecoverOutcome::AlreadyOriginal;
        all_done = all_done && done;
        std::cout << lock::to_string(r.outcome) << "\t" << r.entry.path;
        if (!r.detail.empty()) std::cout << "\t" << r.detail;
        std::cout << "\n";
    }
    if (items.empty()) std::cout << "nothing to recover\n";
    return to_int(all_done ? ExitCode::Done : ExitCode::Partial);
}

}  // namespace rdd::cli
