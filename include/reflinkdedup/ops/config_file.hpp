#pragma once
// The configuration file (/etc/reflinkdedup.conf): Boost.Program_options' config syntax
// ("name = value" lines, '#' comments), with the long option names of the command line. Each
// command reads it with its own options; a name another command takes is skipped, a name no
// command takes (a typo) is an error, and so is a one-shot option (e.g. "all") that must
// never be a standing default.
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/parsers.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rdd::ops {

inline constexpr std::string_view kDefaultConfigPath = "/etc/reflinkdedup.conf";

struct ConfigKeys {
    std::span<const std::string_view> settable;  // names any command may read from the file
    std::span<const std::string_view> refused;   // names that may only be given on the command line
};

// "<path>: <what is wrong>", one line.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Parses `path` against one command's `options`: the result holds only the options this
// command knows (store() it after the command line, so the command line wins). Throws
// ConfigError when the file cannot be read, has a malformed line, a name in neither list,
// a refused name, or a value the option rejects.
[[nodiscard]] boost::program_options::parsed_options read_config_file(
    const std::string& path, const boost::program_options::options_description& options, const ConfigKeys& keys);

}  // namespace rdd::ops
