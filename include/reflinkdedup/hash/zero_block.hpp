#pragma once
// All-zero detection, cheap enough to run on every block before hashing it: faster than XXH3 on
// zero blocks, and it stops at the first non-zero vector, so random data costs nanoseconds.
#include <cstddef>
#include <span>

namespace rdd::hash {

[[nodiscard]] bool is_all_zero(std::span<const std::byte> data) noexcept;

}  // namespace rdd::hash
