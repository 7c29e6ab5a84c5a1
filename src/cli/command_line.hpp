#pragma once
// One command's arguments: its options (which include --help) plus positional operands.
#include <boost/program_options/options_description.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rdd::cli {

// Returns the operands, or nullopt when --help was asked (the options were printed). Throws
// UsageError("COMMAND: ...") for malformed input.
[[nodiscard]] std::optional<std::vector<std::string>> parse_command_line(
    std::string_view command, const std::vector<std::string>& args,
    const boost::program_options::options_description& options);

// The catalog a command works on: --db when given, else the default catalog of the filesystem
// holding the first operand. Throws UsageError / InputError.
[[nodiscard]] std::string catalog_from_options(const std::string& db, const std::vector<std::string>& operands,
                                               std::string_view command);

}  // namespace rdd::cli
