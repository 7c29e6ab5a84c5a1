#include "reflinkdedup/ops/config_file.hpp"

#include <algorithm>
#include <boost/program_options/variables_map.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace po = boost::program_options;

namespace rdd::ops {

namespace {

bool listed(std::span<const std::string_view> names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

po::parsed_options read_config_file(const std::string& path, const po::options_description& options,
                                    const ConfigKeys& keys) {
    std::ifstream in(path);
    if (!in) throw ConfigError(path + ": cannot read it: " + std::strerror(errno));
    po::parsed_options parsed(&options);
    try {
        // allow_unregistered: names of other commands come back flagged, checked below.
        parsed = po::parse_config_file(in, options, /*allow_unregistered=*/true);
    } catch (const po::error& e) {
        throw ConfigError(path + ": " + e.what());
    }
    std::vector<po::option> kept;
    for (po::option& o : parsed.options) {
        if (listed(keys.refused, o.string_key)) {
            throw ConfigError(path + ": '" + o.string_key + "' can only be given on the command line");
        }
        if (o.unregistered) {
            if (!listed(keys.settable, o.string_key)) {
                throw ConfigError(path + ": unknown option '" + o.string_key + "'");
            }
            continue;  // another command's option
        }
        kept.push_back(std::move(o));
    }
    parsed.options = std::move(kept);
    // Values are checked on store(): do it once here, so a bad one is reported against the file.
    try {
        po::variables_map trial;
        po::store(parsed, trial);
    } catch (const po::error& e) {
        throw ConfigError(path + ": " + e.what());
    }
    return parsed;
}

}  // namespace rdd::ops
