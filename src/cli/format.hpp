#pragma once
// Human-readable numbers and names for summaries.
#include <cstdint>
#include <string>
#include <string_view>

namespace rdd::cli {

// 1536 -> "1.5 KiB"; exact bytes below 1 KiB. Negative values keep their sign.
[[nodiscard]] std::string iec_bytes(std::int64_t bytes);
[[nodiscard]] std::string iec_bytes(std::uint64_t bytes);

// A file name (or a message holding one) for a text line: control characters and backslashes
// escaped as in C (a name with a newline between a and b prints as a\nb, ESC as \x1b), so
// that no name can break a line or draw on the terminal. Other bytes (UTF-8 or not) are kept. --json output
// keeps names as they are (JSON escapes them itself).
[[nodiscard]] std::string printable(std::string_view text);

}  // namespace rdd::cli
