// struct btrfs_data_container as BTRFS_IOC_INO_PATHS fills it: four u32 counters, then elem_cnt
// u64 offsets (relative to the first offset's address) of NUL-terminated paths.
#include <linux/btrfs.h>

#include <cstddef>
#include <cstring>

#include "le_bytes.hpp"
#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/paths.hpp"

namespace rdd::btrfs {

namespace {

constexpr const char* kWhat = "INO_PATHS result";

// The container is an ioctl result (host byte order, not on-disk), so plain copies.
template <typename T>
T load_host(std::span<const std::byte> bytes, std::size_t at) {
    detail::require_bytes(bytes, at, sizeof(T), kWhat);
    T value;
    std::memcpy(&value, bytes.data() + at, sizeof value);
    return value;
}

}  // namespace

InoPathsResult parse_ino_paths(std::span<const std::byte> container) {
    constexpr std::size_t kVal = offsetof(btrfs_data_container, val);
    static_assert(kVal == 16);
    const auto elem_cnt =
        load_host<std::uint32_t>(container, offsetof(btrfs_data_container, elem_cnt));
    InoPathsResult result;
    result.missed =
        load_host<std::uint32_t>(container, offsetof(btrfs_data_container, elem_missed));
    if (elem_cnt > (container.size() - kVal) / sizeof(std::uint64_t)) {
        throw MalformedItemError(std::string(kWhat) + ": " + std::to_string(elem_cnt) +
                                 " paths cannot fit in " + std::to_string(container.size()) +
                                 " bytes");
    }
    for (std::uint32_t i = 0; i < elem_cnt; ++i) {
        const auto rel = load_host<std::uint64_t>(container, kVal + i * sizeof(std::uint64_t));
        if (rel >= container.size() - kVal) {
            throw MalformedItemError(std::string(kWhat) + ": path offset " + std::to_string(rel) +
                                     " is past the buffer");
        }
        const std::size_t start = kVal + static_cast<std::size_t>(rel);
        const auto* first = reinterpret_cast<const char*>(container.data() + start);
        const auto* nul =
            static_cast<const char*>(std::memchr(first, '\0', container.size() - start));
        if (nul == nullptr) {
            throw MalformedItemError(std::string(kWhat) + ": path at offset " +
                                     std::to_string(rel) + " has no terminating NUL");
        }
        result.paths.emplace_back(first, nul);
    }
    return result;
}

}  // namespace rdd::btrfs
