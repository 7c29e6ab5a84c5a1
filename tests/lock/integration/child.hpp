#pragma once
// A helper process for the lock tests: its stdin and stdout are pipes to us, so a test can
// wait for "ready" lines and end it by closing stdin. Killed and reaped by the destructor.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd::lock::test {

// Path of lock_test_helper (set by CMake).
[[nodiscard]] std::string helper_path();

class Child {
public:
    explicit Child(const std::vector<std::string>& argv);
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    // Next line of its stdout (without '\n'); nullopt on timeout or end of output.
    [[nodiscard]] std::optional<std::string> read_line(std::chrono::milliseconds timeout);
    void close_stdin() noexcept { in_.reset(); }
    void kill(int sig) noexcept;
    // Waits for it to end; the raw wait status.
    int wait() noexcept;
    // The raw wait status if it has ended, without waiting.
    [[nodiscard]] std::optional<int> try_wait() noexcept;

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
    UniqueFd in_;
    UniqueFd out_;
    std::string buffered_;
};

// Convenience: spawn the helper with `args` and wait (up to 5 s) for the expected first line.
[[nodiscard]] std::optional<std::string> first_line(Child& child);

}  // namespace rdd::lock::test
