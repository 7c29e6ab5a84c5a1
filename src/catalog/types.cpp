#include "reflinkdedup/catalog/types.hpp"

namespace rdd::catalog {

namespace {
void put_be64(unsigned char* out, std::uint64_t v) noexcept {
    for (int i = 7; i >= 0; --i) {
        out[i] = static_cast<unsigned char>(v & 0xff);
        v >>= 8;
    }
}
std::uint64_t get_be64(const unsigned char* in) noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | in[i];
    return v;
}
}  // namespace

std::array<unsigned char, 16> Digest::bytes() const noexcept {
    std::array<unsigned char, 16> out{};
    put_be64(out.data(), hi);
    put_be64(out.data() + 8, lo);
    return out;
}

Digest Digest::from_bytes(const unsigned char* bytes16) noexcept {
    return Digest{get_be64(bytes16), get_be64(bytes16 + 8)};
}

}  // namespace rdd::catalog
