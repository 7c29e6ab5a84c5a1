#pragma once
// Bounds-checked little-endian loads from item bytes (btrfs stores items little-endian whatever
// the host is). Private to the btrfs module.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "reflinkdedup/btrfs/errors.hpp"

namespace rdd::btrfs::detail {

// Throws MalformedItemError unless bytes holds [offset, offset + length).
inline void require_bytes(std::span<const std::byte> bytes, std::size_t offset, std::size_t length,
                          const char* what) {
    if (offset > bytes.size() || length > bytes.size() - offset) {
        throw MalformedItemError(std::string(what) + ": " + std::to_string(bytes.size()) +
                                 " bytes, needs " + std::to_string(offset) + " + " +
                                 std::to_string(length));
    }
}

template <typename T>
[[nodiscard]] T load_le(std::span<const std::byte> bytes, std::size_t offset, const char* what) {
    require_bytes(bytes, offset, sizeof(T), what);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        value |= std::uint64_t{std::to_integer<std::uint8_t>(bytes[offset + i])} << (8 * i);
    }
    return static_cast<T>(value);
}

// The bytes of [offset, offset + length) as a string (names are not NUL-terminated on disk).
[[nodiscard]] inline std::string load_string(std::span<const std::byte> bytes, std::size_t offset,
                                             std::size_t length, const char* what) {
    require_bytes(bytes, offset, length, what);
    return {reinterpret_cast<const char*>(bytes.data() + offset), length};
}

}  // namespace rdd::btrfs::detail
