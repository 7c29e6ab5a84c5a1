#pragma once
// Option values people type: sizes with IEC suffixes, durations with units.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rdd::cli {

// "4096", "64K", "64KiB", "1M", "2G" (powers of 1024); nullopt when malformed or overflowing.
[[nodiscard]] std::optional<std::uint64_t> parse_size(std::string_view text);

// "30" or "30s", "500ms", "5m", "2h"; nullopt when malformed.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace rdd::cli
