#pragma once
// One command's arguments: its options (which include --help), the common options every
// command takes (--config, -v, -q), the configuration file, and positional operands.
#include <boost/program_options/options_description.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rdd::cli {

// Parses the command line, then the configuration file (--config PATH, else
// /etc/reflinkdedup.conf when it exists) for what the command line left unset: the command
// line wins. Sets the verbosity (-v/-q). Returns the operands, or nullopt when --help was
// asked (the help was printed; the configuration file is not read then). Throws
// UsageError("COMMAND: ...") for a malformed command line, InputError("PATH: ...") for a
// bad configuration file.
[[nodiscard]] std::optional<std::vector<std::string>> parse_command_line(
    std::string_view command, const std::vector<std::string>& args,
    const boost::program_options::options_description& options);

// The catalog a command works on: --db when given, else the default catalog of the filesystem
// holding the first operand. Throws UsageError / InputError.
[[nodiscard]] std::string catalog_from_options(const std::string& db, const std::vector<std::string>& operands,
                                               std::string_view command);

}  // namespace rdd::cli
