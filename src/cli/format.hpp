#pragma once
// Human-readable numbers for summaries.
#include <cstdint>
#include <string>

namespace rdd::cli {

// 1536 -> "1.5 KiB"; exact bytes below 1 KiB. Negative values keep their sign.
[[nodiscard]] std::string iec_bytes(std::int64_t bytes);
[[nodiscard]] std::string iec_bytes(std::uint64_t bytes);

}  // namespace rdd::cli
