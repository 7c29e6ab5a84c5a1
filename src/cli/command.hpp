#pragma once
// The command table: each subcommand parses its own options and returns an exit code.
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rdd::cli {

struct Command {
    std::string_view name;
    std::string_view summary;
    int (*run)(const std::vector<std::string>& args);  // args after the command name
};

[[nodiscard]] std::span<const Command> commands();

int run_dedup_files(const std::vector<std::string>& args);
int run_find_new(const std::vector<std::string>& args);
int run_scan_vol(const std::vector<std::string>& args);
int run_dedup_vol(const std::vector<std::string>& args);
int run_recover(const std::vector<std::string>& args);
int run_show_vols(const std::vector<std::string>& args);
int run_reset(const std::vector<std::string>& args);
int run_report(const std::vector<std::string>& args);

// The closest command name to a mistyped one, or empty when nothing is close.
[[nodiscard]] std::string suggest_command(std::string_view typed);

}  // namespace rdd::cli
