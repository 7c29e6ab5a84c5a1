#pragma once
// Where messages go and how they look. Results (summaries, listings, --json) go to stdout;
// messages go to stderr as "reflinkdedup: ..." lines. When stderr is the systemd journal
// (JOURNAL_STREAM names it), each message line carries its syslog priority prefix ("<3>" ...,
// sd-daemon(3)), so `journalctl -p warning` finds the warnings. Live progress is drawn only on
// a terminal.
#include <string_view>

#include "reflinkdedup/ops/log_format.hpp"

namespace rdd::cli {

enum class Verbosity { quiet, normal, verbose };

struct OutputMode {
    bool stderr_tty = false;
    bool journal = false;  // stderr is the journal: priority prefixes
    Verbosity verbosity = Verbosity::normal;
};

// Decides from the process: isatty(stderr), JOURNAL_STREAM against fstat(stderr). Call once
// at start; -q/-v change the verbosity later.
void init_output();
[[nodiscard]] const OutputMode& output_mode() noexcept;
void set_verbosity(Verbosity v) noexcept;

// One message line on stderr. quiet drops notice/info/debug; debug needs verbose.
void log_line(ops::Priority p, std::string_view text);
inline void log_error(std::string_view text) { log_line(ops::Priority::error, text); }
inline void log_warning(std::string_view text) { log_line(ops::Priority::warning, text); }
inline void log_info(std::string_view text) { log_line(ops::Priority::info, text); }
inline void log_debug(std::string_view text) { log_line(ops::Priority::debug, text); }

}  // namespace rdd::cli
