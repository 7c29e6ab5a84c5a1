#pragma once
// Hand-built item and ioctl-result buffers for the parser tests.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace rdd::btrfs::test {

class Bytes {
public:
    // Little-endian, as btrfs stores items.
    template <typename T>
    Bytes& le(T value) {
        for (std::size_t i = 0; i < sizeof(T); ++i) {
            bytes_.push_back(
                static_cast<std::byte>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xff));
        }
        return *this;
    }
    // Host byte order, as ioctl structs are.
    template <typename T>
    Bytes& host(const T& value) {
        const auto* p = reinterpret_cast<const std::byte*>(&value);
        bytes_.insert(bytes_.end(), p, p + sizeof(T));
        return *this;
    }
    Bytes& text(const std::string& s) {
        for (const char c : s) bytes_.push_back(static_cast<std::byte>(c));
        return *this;
    }
    Bytes& zeros(std::size_t n) {
        bytes_.insert(bytes_.end(), n, std::byte{0});
        return *this;
    }
    Bytes& append(const Bytes& other) {
        bytes_.insert(bytes_.end(), other.bytes_.begin(), other.bytes_.end());
        return *this;
    }
    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
    [[nodiscard]] std::span<const std::byte> span() const noexcept { return bytes_; }
    // The first n bytes (a truncated copy).
    [[nodiscard]] std::span<const std::byte> first(std::size_t n) const { return span().first(n); }

private:
    std::vector<std::byte> bytes_;
};

}  // namespace rdd::btrfs::test
