#pragma once
// SIGINT/SIGTERM ask the run to stop after the current kernel call, never in the middle of one.
#include <csignal>

namespace rdd {

// Installs the handlers for its lifetime and restores the previous ones afterwards.
class [[nodiscard]] InterruptGuard {
public:
    InterruptGuard();
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

// True once SIGINT or SIGTERM arrived while a guard was installed.
[[nodiscard]] bool interrupt_requested() noexcept;

}  // namespace rdd
