#include "reflinkdedup/hash/digest.hpp"

#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
// Redirects XXH3_128bits* to the runtime-dispatched AVX2/AVX-512 variants in libxxhash:
// measured 4 GB/s -> 19 GB/s on 64 KiB blocks (Debian builds the plain ones for SSE2).
#include <xxh_x86dispatch.h>
#endif

#include <algorithm>
#include <array>
#include <cstring>
#include <new>

namespace rdd::hash {

namespace {

Digest128 from_xxh(XXH128_hash_t h) noexcept { return Digest128{h.high64, h.low64}; }

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string Digest128::to_string() const {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(32);
    for (const std::byte b : to_bytes()) {
        const auto v = static_cast<unsigned>(b);
        out.push_back(kDigits[v >> 4]);
        out.push_back(kDigits[v & 0xf]);
    }
    return out;
}

std::optional<Digest128> Digest128::from_hex(std::string_view hex) {
    if (hex.size() != 32) return std::nullopt;
    Digest128 d;
    for (std::size_t i = 0; i < 32; ++i) {
        const int v = hex_value(hex[i]);
        if (v < 0) return std::nullopt;
        std::uint64_t& word = i < 16 ? d.high : d.low;
        word = (word << 4) | static_cast<std::uint64_t>(v);
    }
    return d;
}

std::array<std::byte, 16> Digest128::to_bytes() const noexcept {
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH128_hash_t{low, high});
    std::array<std::byte, 16> out{};
    std::memcpy(out.data(), canon.digest, out.size());
    return out;
}

Digest128 Digest128::from_bytes(std::span<const std::byte, 16> bytes) noexcept {
    XXH128_canonical_t canon;
    std::memcpy(canon.digest, bytes.data(), bytes.size());
    return from_xxh(XXH128_hashFromCanonical(&canon));
}

Digest128 digest_of(std::span<const std::byte> data) noexcept {
    return from_xxh(XXH3_128bits(data.data(), data.size()));
}

struct StreamingDigest::State {
    XXH3_state_t* xxh = nullptr;
    State() : xxh(XXH3_createState()) {
        if (xxh == nullptr) throw std::bad_alloc();
    }
    ~State() { XXH3_freeState(xxh); }
    State(const State&) = delete;
    State& operator=(const State&) = delete;
};

StreamingDigest::StreamingDigest() : state_(std::make_unique<State>()) { reset(); }
StreamingDigest::~StreamingDigest() = default;
StreamingDigest::StreamingDigest(StreamingDigest&&) noexcept = default;
StreamingDigest& StreamingDigest::operator=(StreamingDigest&&) noexcept = default;

void StreamingDigest::reset() noexcept { (void)XXH3_128bits_reset(state_->xxh); }

void StreamingDigest::update(std::span<const std::byte> data) noexcept {
    // Only fails on a null state, which the constructor rules out.
    (void)XXH3_128bits_update(state_->xxh, data.data(), data.size());
}

void StreamingDigest::update_zeros(std::uint64_t count) noexcept {
    static constexpr std::array<std::byte, 64 * 1024> kZeros{};
    while (count != 0) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(count, kZeros.size()));
        update(std::span(kZeros.data(), n));
        count -= n;
    }
}

Digest128 StreamingDigest::digest() const noexcept {
    return from_xxh(XXH3_128bits_digest(state_->xxh));
}

}  // namespace rdd::hash
