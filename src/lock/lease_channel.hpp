#pragma once
// Internal: the process-wide signalfd on which lease-break signals arrive. One per process
// because the signals are process-directed: any reader may receive any lease's signal.
#include <chrono>
#include <cstddef>
#include <vector>

#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd::lock::detail {

struct Drained {
    std::vector<int> fds;    // si_fd of each lease-break signal read
    bool overflow = false;   // a plain SIGIO: the realtime queue overflowed, fds unknown
};

class LeaseChannel {
public:
    // Created on first use (thread-safe); also sets the SIG_IGN safety net.
    static LeaseChannel& instance();

    // Reads everything queued, without blocking. Thread-safe.
    [[nodiscard]] Drained drain();
    // Waits until a signal is queued or the timeout passes; true if one is queued.
    [[nodiscard]] bool wait(std::chrono::milliseconds timeout);

private:
    LeaseChannel();
    UniqueFd fd_;
};

}  // namespace rdd::lock::detail
