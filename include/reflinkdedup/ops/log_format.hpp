#pragma once
// Log lines for the systemd journal: sd-daemon(3) lets a service mark each line written to
// stderr with its syslog priority ("<3>" error ... "<7>" debug), which journald strips and
// records. Pure: the caller gives the environment and stat of its stderr.
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace rdd::ops {

enum class Priority { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

// "<3>" for error, ... as sd-daemon.h's SD_ERR etc.
[[nodiscard]] std::string priority_prefix(Priority p);

// True when the JOURNAL_STREAM value ("DEVICE:INODE", decimal, set by systemd for services
// whose stdout/stderr go to the journal) names the file stderr is: systemd.exec(5) says to
// compare, since the variable is inherited by children whose stderr may go elsewhere.
[[nodiscard]] bool journal_stream_matches(std::optional<std::string_view> journal_stream, dev_t dev, ino_t ino);

}  // namespace rdd::ops
