#pragma once
// An error from a system call: keeps errno, the operation and the path so that every message
// a user sees says what failed, where, and why.
#include <stdexcept>
#include <string>

namespace rdd {

class SysError : public std::runtime_error {
public:
    SysError(int err, std::string operation, std::string path);

    [[nodiscard]] int err() const noexcept { return err_; }
    [[nodiscard]] const std::string& operation() const noexcept { return operation_; }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
    int err_;
    std::string operation_;
    std::string path_;
};

// Throws SysError with the current errno.
[[noreturn]] void throw_errno(const std::string& operation, const std::string& path);

// "strerror" text for an errno value, thread-safe.
[[nodiscard]] std::string errno_text(int err);

}  // namespace rdd
