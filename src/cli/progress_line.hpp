#pragma once
// Progress for long runs: a live line rewritten in place on a terminal (not with -q); elsewhere
// (systemd, pipes) nothing, or with -v a plain info line every 30 seconds, so logs stay
// readable.
#include <chrono>
#include <cstdint>
#include <string>

namespace rdd::cli {

class ProgressLine {
public:
    ProgressLine();  // decides from output_mode(): terminal, verbosity
    ~ProgressLine();  // ends a live line with a newline
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;

    // `text` is the state now; the line shows it with the rate of `done_bytes` and, when
    // total_bytes is known (> 0), an ETA.
    void update(const std::string& text, std::uint64_t done_bytes, std::uint64_t total_bytes);

private:
    using Clock = std::chrono::steady_clock;
    bool live_;
    bool plain_;  // not live: a line every 30 s (-v without a terminal)
    bool drawn_ = false;
    Clock::time_point start_, last_;
};

}  // namespace rdd::cli
