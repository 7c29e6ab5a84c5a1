#include "command_line.hpp"

#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <iostream>

#include "config_keys.hpp"
#include "output.hpp"
#include "reflinkdedup/ops/config_file.hpp"
#include "reflinkdedup/scan/scan_volumes.hpp"
#include "usage_error.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

namespace {

po::options_description common_options() {
    po::options_description common(
        "Common options (any of these, and most options above, can be set in the configuration\n"
        "file as 'name = value' lines; the command line wins)");
    common.add_options()
        ("config", po::value<std::string>()->value_name("PATH"),
         "configuration file (default /etc/reflinkdedup.conf; a missing default file is fine)")
        ("verbose,v", po::bool_switch(), "more messages: what was decided, and progress lines every 30 s "
                                         "when stderr is not a terminal")
        ("quiet,q", po::bool_switch(), "no progress and no info messages on stderr, only warnings and "
                                       "errors (results still go to stdout)");
    return common;
}

bool switched(const po::variables_map& vm, const char* name) { return vm.count(name) && vm[name].as<bool>(); }

// The configuration file's options, or an empty set when the default file is absent.
po::parsed_options config_options(const po::variables_map& vm, const po::options_description& visible) {
    std::string path(ops::kDefaultConfigPath);
    const bool chosen = vm.count("config") != 0;
    if (chosen) path = vm["config"].as<std::string>();
    struct stat st {};
    if (!chosen && ::stat(path.c_str(), &st) != 0 && errno == ENOENT) return po::parsed_options(&visible);
    try {
        po::parsed_options parsed = ops::read_config_file(path, visible, config_keys());
        log_debug("read options from " + path);
        return parsed;
    } catch (const ops::ConfigError& e) {
        throw InputError(e.what());
    }
}

}  // namespace

std::optional<std::vector<std::string>> parse_command_line(std::string_view command,
                                                           const std::vector<std::string>& args,
                                                           const po::options_description& options) {
    const po::options_description common = common_options();
    po::options_description visible;
    visible.add(options).add(common);
    po::options_description hidden;
    hidden.add_options()("operands", po::value<std::vector<std::string>>(), "operands");
    po::options_description all;
    all.add(visible).add(hidden);
    po::positional_options_description pos;
    pos.add("operands", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    } catch (const po::error& e) {
        throw UsageError(std::string(command) + ": " + e.what());
    }
    if (vm.count("help")) {
        std::cout << options << "\n" << common << "\n";
        return std::nullopt;
    }
    // -v/-q on the command line replace the file's choice as a pair.
    const bool verbosity_given = !vm["verbose"].defaulted() || !vm["quiet"].defaulted();
    bool verbose = switched(vm, "verbose"), quiet = switched(vm, "quiet");
    if (verbose && quiet) throw UsageError(std::string(command) + ": -v and -q exclude each other");
    if (verbose) set_verbosity(Verbosity::verbose);  // before the file is read: -v shows which
    po::store(config_options(vm, visible), vm);
    if (!verbosity_given) {
        verbose = switched(vm, "verbose");
        quiet = switched(vm, "quiet");
        if (verbose && quiet) throw InputError("the configuration sets both verbose and quiet");
    }
    set_verbosity(quiet ? Verbosity::quiet : verbose ? Verbosity::verbose : Verbosity::normal);
    try {
        po::notify(vm);
    } catch (const po::error& e) {
        throw UsageError(std::string(command) + ": " + e.what());
    }
    if (!vm.count("operands")) return std::vector<std::string>{};
    return vm["operands"].as<std::vector<std::string>>();
}

std::string catalog_from_options(const std::string& db, const std::vector<std::string>& operands,
                                 std::string_view command) {
    if (!db.empty()) return db;
    if (operands.empty()) throw UsageError(std::string(command) + ": give a PATH on the filesystem, or --db");
    try {
        return default_catalog_for(operands.front());
    } catch (const std::invalid_argument& e) {
        throw InputError(e.what());
    }
}

}  // namespace rdd::cli
