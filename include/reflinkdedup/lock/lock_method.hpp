#pragma once
// --lock=lease|immutable|none
#include <optional>
#include <string_view>

namespace rdd::lock {

enum class LockMethod {
    Lease,      // default: read leases; no trace, no timestamp change, dies with the process
    Immutable,  // bedup's freeze: journaled FS_IMMUTABLE_FL; new writers get EPERM outright
    None,       // no lock: the kernel's compare still protects the data, not the catalog
};

inline constexpr LockMethod kDefaultLockMethod = LockMethod::Lease;

[[nodiscard]] std::optional<LockMethod> parse_lock_method(std::string_view text) noexcept;
[[nodiscard]] std::string_view to_string(LockMethod method) noexcept;

}  // namespace rdd::lock
