#include "config_keys.hpp"

#include <array>
#include <string_view>

namespace rdd::cli {

namespace {

// Standing defaults an admin may set once for every run.
constexpr std::array<std::string_view, 19> kSettable{
    "db",        "block-size",   "min-size", "exclude",     "wait",           "io",
    "json",      "lock",         "state-dir", "dry-run",    "verbose",        "quiet",
    "recursive", "ro-snapshots", "walk",     "max-runtime", "max-move-ratio", "allow-buggy-kernel",
    "keep-zeros",
};

// One-shot or destructive requests: only ever on purpose, on the command line.
constexpr std::array<std::string_view, 8> kRefused{
    "help", "config", "version", "all", "reset-block-size", "rehash", "all-changes", "forget-unrepaired",
};

}  // namespace

ops::ConfigKeys config_keys() noexcept { return {kSettable, kRefused}; }

}  // namespace rdd::cli
