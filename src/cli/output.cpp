#include "output.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "format.hpp"

namespace rdd::cli {

namespace {

OutputMode g_mode;

}  // namespace

void init_output() {
    g_mode.stderr_tty = ::isatty(STDERR_FILENO) == 1;
    struct stat st {};
    const char* stream = std::getenv("JOURNAL_STREAM");
    g_mode.journal = stream != nullptr && ::fstat(STDERR_FILENO, &st) == 0 &&
                     ops::journal_stream_matches(std::string_view(stream), st.st_dev, st.st_ino);
}

const OutputMode& output_mode() noexcept { return g_mode; }

void set_verbosity(Verbosity v) noexcept { g_mode.verbosity = v; }

void log_line(ops::Priority p, std::string_view text) {
    const bool chatty = p == ops::Priority::notice || p == ops::Priority::info;
    if (g_mode.verbosity == Verbosity::quiet && (chatty || p == ops::Priority::debug)) return;
    if (p == ops::Priority::debug && g_mode.verbosity != Verbosity::verbose) return;
    // One message, one line: a file name with a newline in it is escaped (printable()), so
    // readers of stderr and the journal, which judges each line by itself, see it whole.
    const std::string prefix = g_mode.journal ? ops::priority_prefix(p) : std::string();
    const std::string line = prefix + "reflinkdedup: " + printable(text) + '\n';
    // One write per line: lines of concurrent writers (and the journal's record boundaries)
    // stay whole.
    std::fflush(stderr);
    (void)::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace rdd::cli
