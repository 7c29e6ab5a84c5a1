#include "reflinkdedup/hash/zero_block.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

namespace rdd::hash {
namespace {

TEST(IsAllZero, EmptyAndZeroBuffersOfAnyLength) {
    EXPECT_TRUE(is_all_zero({}));
    for (const std::size_t n : std::initializer_list<std::size_t>{1, 7, 8, 9, 63, 64, 65, 127, 4096, 4097, 131072}) {
        const std::vector<std::byte> zeros(n);
        EXPECT_TRUE(is_all_zero(zeros)) << n;
    }
}

TEST(IsAllZero, FindsASingleNonZeroByteAnywhere) {
    for (const std::size_t n : std::initializer_list<std::size_t>{1, 7, 8, 9, 63, 64, 65, 200, 4096, 4097}) {
        for (std::size_t at = 0; at < n; ++at) {
            std::vector<std::byte> v(n);
            v[at] = std::byte{0x80};
            ASSERT_FALSE(is_all_zero(v)) << "n=" << n << " at=" << at;
        }
    }
}

TEST(IsAllZero, UnalignedStart) {
    std::vector<std::byte> v(4096 + 3);
    EXPECT_TRUE(is_all_zero(std::span(v).subspan(3)));
    v.back() = std::byte{1};
    EXPECT_FALSE(is_all_zero(std::span(v).subspan(3)));
}

}  // namespace
}  // namespace rdd::hash
