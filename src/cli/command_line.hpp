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

}  // namespace rdd::cli
