#include "progress_line.hpp"

#include <cstdio>

#include "format.hpp"
#include "output.hpp"

namespace rdd::cli {

ProgressLine::ProgressLine()
    : live_(output_mode().stderr_tty && output_mode().verbosity != Verbosity::quiet),
      plain_(!live_ && output_mode().verbosity == Verbosity::verbose),
      start_(Clock::now()),
      last_(start_) {}

ProgressLine::~ProgressLine() {
    if (live_ && drawn_) std::fputs("\n", stderr);
}

void ProgressLine::update(const std::string& text, std::uint64_t done_bytes, std::uint64_t total_bytes) {
    if (!live_ && !plain_) return;
    const auto now = Clock::now();
    const auto period = live_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(30'000);
    if (now - last_ < period) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done_bytes) / secs : 0;
    std::string line = text + ", " + iec_bytes(static_cast<std::uint64_t>(rate)) + "/s";
    if (total_bytes > done_bytes && rate > 0) {
        const auto eta = static_cast<long long>(static_cast<double>(total_bytes - done_bytes) / rate);
        char buf[32];
        std::snprintf(buf, sizeof buf, ", ETA %lld:%02lld", eta / 60, eta % 60);
        line += buf;
    }
    if (!live_) return log_info(line);
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    drawn_ = true;
    std::fflush(stderr);
}

}  // namespace rdd::cli
