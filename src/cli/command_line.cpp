#include "command_line.hpp"

#include <boost/program_options.hpp>
#include <iostream>

#include "reflinkdedup/scan/scan_volumes.hpp"
#include "usage_error.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

std::optional<std::vector<std::string>> parse_command_line(std::string_view command,
                                                           const std::vector<std::string>& args,
                                                           const po::options_description& options) {
    po::options_description hidden;
    hidden.add_options()("operands", po::value<std::vector<std::string>>(), "operands");
    po::options_description all;
    all.add(options).add(hidden);
    po::positional_options_description pos;
    pos.add("operands", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw UsageError(std::string(command) + ": " + e.what());
    }
    if (vm.count("help")) {
        std::cout << options << "\n";
        return std::nullopt;
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
