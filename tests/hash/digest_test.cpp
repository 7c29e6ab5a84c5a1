#include "reflinkdedup/hash/digest.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <unordered_map>
#include <initializer_list>
#include <vector>

#include "reference_digests.hpp"

namespace rdd::hash {
namespace {

std::vector<std::byte> random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::byte> v(n);
    for (auto& b : v) b = static_cast<std::byte>(rng() & 0xff);
    return v;
}

TEST(Digest128, EmptyInputHasXxh128sumValue) {
    // `xxh128sum /dev/null` prints this.
    EXPECT_EQ(digest_of({}).to_string(), "99aa06d3014798d86001c324468d497f");
}

TEST(Digest128, OneShotMatchesPlainXxh3AtEverySizeAroundStripeEdges) {
    const auto data = random_bytes(70000, 1);
    for (const std::size_t n : std::initializer_list<std::size_t>{0, 1, 15, 16, 17, 128, 129, 240, 241, 1024, 4095, 4096, 4097, 65536, 70000}) {
        EXPECT_EQ(digest_of(std::span(data).first(n)), test::reference_xxh3(data.data(), n)) << n;
    }
}

TEST(Digest128, StreamingEqualsOneShotWhateverThePieces) {
    const auto data = random_bytes(300000, 2);
    const Digest128 expected = digest_of(data);
    for (std::size_t piece : {1ul, 7ul, 4096ul, 65536ul, 131072ul, 300000ul}) {
        StreamingDigest s;
        for (std::size_t off = 0; off < data.size(); off += piece)
            s.update(std::span(data).subspan(off, std::min(piece, data.size() - off)));
        EXPECT_EQ(s.digest(), expected) << piece;
    }
    StreamingDigest s;
    s.update(std::span(data).first(100));
    s.reset();
    s.update(data);
    EXPECT_EQ(s.digest(), expected);
    StreamingDigest moved = std::move(s);
    EXPECT_EQ(moved.digest(), expected);
}

TEST(StreamingDigest, ZerosAreFedWithoutABufferOfTheirSize) {
    for (std::size_t n : {0ul, 1ul, 65535ul, 65536ul, 65537ul, 1000000ul}) {
        const std::vector<std::byte> zeros(n);
        StreamingDigest with_buffer, without;
        with_buffer.update(std::span(zeros));
        without.update_zeros(n);
        EXPECT_EQ(without.digest(), with_buffer.digest()) << n;
        EXPECT_EQ(without.digest(), digest_of(zeros)) << n;
    }
}

TEST(Digest128, HexIsHighThenLowAndRoundTrips) {
    const Digest128 d = digest_of(random_bytes(1000, 3));
    char expected[33];
    std::snprintf(expected, sizeof expected, "%016llx%016llx", static_cast<unsigned long long>(d.high),
                  static_cast<unsigned long long>(d.low));
    EXPECT_EQ(d.to_string(), expected);
    EXPECT_EQ(Digest128::from_hex(d.to_string()), d);
    EXPECT_EQ(Digest128::from_hex("99AA06D3014798D86001C324468D497F"), digest_of({}));
    EXPECT_FALSE(Digest128::from_hex("99aa"));
    EXPECT_FALSE(Digest128::from_hex("g9aa06d3014798d86001c324468d497f"));
}

TEST(Digest128, BytesAreCanonicalBigEndianAndRoundTrip) {
    const Digest128 d{0x0102030405060708ull, 0x090a0b0c0d0e0f10ull};
    const auto bytes = d.to_bytes();
    for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(static_cast<unsigned>(bytes[i]), i + 1);
    EXPECT_EQ(Digest128::from_bytes(bytes), d);
}

TEST(Digest128, OrderedAndUsableAsUnorderedMapKey) {
    const Digest128 a{1, 2}, b{1, 3}, c{2, 0};
    EXPECT_LT(a, b);
    EXPECT_LT(b, c);
    EXPECT_EQ(a, (Digest128{1, 2}));
    std::unordered_map<Digest128, int> m;
    m[a] = 1;
    m[b] = 2;
    m[digest_of({})] = 3;
    EXPECT_EQ(m.at(a), 1);
    EXPECT_EQ(m.at(b), 2);
    EXPECT_EQ(m.at(digest_of({})), 3);
    EXPECT_NE(std::hash<Digest128>{}(a), std::hash<Digest128>{}(b));
}

}  // namespace
}  // namespace rdd::hash
