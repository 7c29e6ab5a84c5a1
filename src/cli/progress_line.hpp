#pragma once
// Progress for long runs: a live line rewritten in place on a terminal; elsewhere (systemd,
// pipes) a plain line every 30 seconds, so logs stay readable.
#include <chrono>
#include <cstdint>
#include <string>

namespace rdd::cli {

class ProgressLine {
public:
    ProgressLine();  // decides from isatty(stderr)
    ~ProgressLine();  // ends a live line with a newline
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;

    // `text` is the state now; the line shows it with the rate of `done_bytes` and, when
    // total_bytes is known (> 0), an ETA.
    void update(const std::string& text, std::uint64_t done_bytes, std::uint64_t total_bytes);

private:
    using Clock = std::chrono::steady_clock;
    bool live_;
    bool drawn_ = false;
    Clock::time_point start_, last_;
};

}  // namespace rdd::cli
