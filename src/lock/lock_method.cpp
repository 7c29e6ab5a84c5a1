#include "reflinkdedup/lock/lock_method.hpp"

namespace rdd::lock {

std::optional<LockMethod> parse_lock_method(std::string_view text) noexcept {
    if (text == "lease") return LockMethod::Lease;
    if (text == "immutable") return LockMethod::Immutable;
    if (text == "none") return LockMethod::None;
    return std::nullopt;
}

std::string_view to_string(LockMethod method) noexcept {
    switch (method) {
        case LockMethod::Lease: return "lease";
        case LockMethod::Immutable: return "immutable";
        case LockMethod::None: return "none";
    }
    return "?";
}

}  // namespace rdd::lock
