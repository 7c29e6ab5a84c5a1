#pragma once
// One writing process per catalog: an OFD lock on "<db>.lock" (created 0600 beside the db).
// The lock dies with its file description, so a crashed writer never leaves it held.
#include <chrono>
#include <string>

#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd::catalog {

class [[nodiscard]] WriterLock {
public:
    WriterLock() noexcept = default;
    WriterLock(WriterLock&&) noexcept = default;
    WriterLock& operator=(WriterLock&&) noexcept = default;

    // Waits up to `timeout` (0: one try). Throws WriterLockTimeoutError when another holder
    // keeps it, rdd::SysError when the lock file cannot be opened.
    [[nodiscard]] static WriterLock acquire(const std::string& lock_path, std::chrono::milliseconds timeout);

    [[nodiscard]] static std::string lock_path_for(const std::string& db_path) { return db_path + ".lock"; }
    [[nodiscard]] bool held() const noexcept { return fd_.valid(); }
    void release() noexcept { fd_.reset(); }

private:
    explicit WriterLock(UniqueFd fd) noexcept : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

}  // namespace rdd::catalog
