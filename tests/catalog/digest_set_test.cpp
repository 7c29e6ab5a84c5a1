// The probe's digest set: exact membership with and without its bit filter.
#include <random>
#include <set>

#include "catalog_test_support.hpp"
#include "digest_set.hpp"

namespace rdd::catalog::detail {
namespace {

TEST(CatalogDigestSet, ExactMembershipThroughGrowthAndFilter) {
    std::mt19937_64 rng(3);
    DigestSet set;
    std::set<Digest> model;
    for (int i = 0; i < 20000; ++i) {
        const Digest d{rng() % 5000, rng() % 3};  // repeats and small values
        set.insert(d);
        model.insert(d);
    }
    set.insert(Digest{0, 0});  // the free-slot marker is a digest too
    model.insert(Digest{0, 0});
    EXPECT_EQ(set.size(), model.size());
    for (int pass = 0; pass < 2; ++pass) {
        for (std::uint64_t hi = 0; hi < 5100; ++hi) {
            for (std::uint64_t lo = 0; lo < 4; ++lo) {
                ASSERT_EQ(set.contains(Digest{hi, lo}), model.count(Digest{hi, lo}) == 1) << hi << "," << lo;
            }
        }
        set.build_filter();
    }
}

TEST(CatalogDigestSet, EmptySetContainsNothing) {
    DigestSet set;
    set.build_filter();
    EXPECT_FALSE(set.contains(Digest{0, 0}));
    EXPECT_FALSE(set.contains(Digest{1, 2}));
}

}  // namespace
}  // namespace rdd::catalog::detail
