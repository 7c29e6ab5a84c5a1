#pragma once
// Which option names the configuration file may hold. tests/cli checks these lists against
// every command's --help, so a new option must be put in one of them.
#include "reflinkdedup/ops/config_file.hpp"

namespace rdd::cli {

[[nodiscard]] ops::ConfigKeys config_keys() noexcept;

}  // namespace rdd::cli
