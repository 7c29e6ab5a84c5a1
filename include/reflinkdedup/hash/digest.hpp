#pragma once
// XXH3-128 digests: the value type stored in the catalog, one-shot hashing of a buffer, and a
// streaming state for whole-file digests. xxhash.h stays out of this header.
#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rdd::hash {

struct Digest128 {
    std::uint64_t high = 0;  // XXH128_hash_t::high64
    std::uint64_t low = 0;   // XXH128_hash_t::low64

    friend constexpr auto operator<=>(const Digest128&, const Digest128&) = default;

    // 32 lowercase hex digits, high half first: the same text as `xxh128sum`.
    [[nodiscard]] std::string to_string() const;
    // Inverse of to_string(); nullopt unless exactly 32 hex digits.
    [[nodiscard]] static std::optional<Digest128> from_hex(std::string_view hex);

    // XXH128's canonical (big-endian) 16 bytes, e.g. for a SQLite BLOB.
    [[nodiscard]] std::array<std::byte, 16> to_bytes() const noexcept;
    [[nodiscard]] static Digest128 from_bytes(std::span<const std::byte, 16> bytes) noexcept;
};

// For unordered containers: XXH3's output is already uniform, so one half is enough.
struct Digest128Hash {
    [[nodiscard]] std::size_t operator()(const Digest128& d) const noexcept {
        return static_cast<std::size_t>(d.low);
    }
};

// XXH3_128bits (seed 0) of `data`; uses xxHash's runtime-dispatched AVX2/AVX-512 code on x86.
[[nodiscard]] Digest128 digest_of(std::span<const std::byte> data) noexcept;

// XXH3-128 over data given in pieces; equals digest_of() of the concatenation.
class StreamingDigest {
public:
    StreamingDigest();  // throws std::bad_alloc
    ~StreamingDigest();
    StreamingDigest(StreamingDigest&&) noexcept;
    StreamingDigest& operator=(StreamingDigest&&) noexcept;
    StreamingDigest(const StreamingDigest&) = delete;
    StreamingDigest& operator=(const StreamingDigest&) = delete;

    void reset() noexcept;
    void update(std::span<const std::byte> data) noexcept;
    // As update() with `count` zero bytes, without a buffer of that size.
    void update_zeros(std::uint64_t count) noexcept;
    // Digest of everything since the last reset(); the state can keep being updated.
    [[nodiscard]] Digest128 digest() const noexcept;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace rdd::hash

template <>
struct std::hash<rdd::hash::Digest128> : rdd::hash::Digest128Hash {};
