// reflinkdedup: command dispatch and the mapping of failures to exit codes. All logic lives in
// the library; this file only turns argv into a command and errors into one line on stderr.
#include <iostream>
#include <string>
#include <vector>

#include "command.hpp"
#include "reflinkdedup/lock/lease_signal.hpp"
#include "reflinkdedup/app/exit_codes.hpp"
#include "reflinkdedup/app/input_error.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "usage_error.hpp"

namespace {

void print_usage(std::ostream& out) {
    out << "Usage: reflinkdedup COMMAND [OPTIONS] [ARGS]\n\n"
           "Offline in-place deduplication for btrfs and XFS (reflink=1): identical data is\n"
           "shared with FIDEDUPERANGE, every file keeps its own inode and metadata.\n\nCommands:\n";
    for (const auto& c : rdd::cli::commands()) {
        out << "  " << c.name << std::string(14 - c.name.size(), ' ') << c.summary << "\n";
    }
    out << "\n'reflinkdedup COMMAND --help' describes a command, its options and exit codes.\n";
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
    std::string msg = "unknown command '" + argv[0] + "'";
    if (const auto s = rdd::cli::suggest_command(argv[0]); !s.empty()) msg += "; did you mean '" + s + "'?";
    throw rdd::cli::UsageError(msg);
}

}  // namespace

int main(int argc, char** argv) {
    using rdd::ExitCode;
    // Lease-break signals are read from a signalfd: block them before any thread starts, so
    // no thread can be killed by one or swallow it.
    const rdd::lock::LeaseSignalBlock lease_signals;
    try {
        return dispatch({argv + 1, argv + argc});
    } catch (const rdd::cli::UsageError& e) {
        std::cerr << "reflinkdedup: " << e.what() << " (see 'reflinkdedup --help')\n";
        return rdd::to_int(ExitCode::InputError);
    } catch (const rdd::InputError& e) {
        std::cerr << "reflinkdedup: " << e.what() << "\n";
        return rdd::to_int(ExitCode::InputError);
    } catch (const rdd::SysError& e) {
        std::cerr << "reflinkdedup: " << e.what() << "\n";
        return rdd::to_int(ExitCode::Failure);
    } catch (const std::exception& e) {
        std::cerr << "reflinkdedup: internal error: " << e.what() << "\n";
        return rdd::to_int(ExitCode::Failure);
    }
}
