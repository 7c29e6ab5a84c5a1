// The duplicate query's external sorter: in memory, spilled, re-partitioned, one huge digest.
#include <algorithm>
#include <random>
#include <tuple>

#include "catalog_test_support.hpp"
#include "external_sort.hpp"

namespace rdd::catalog::detail {
namespace {

using testing::TempDir;

bool less(const SortRecord& a, const SortRecord& b) {
    return std::tie(a.digest, a.file, a.index) < std::tie(b.digest, b.file, b.index);
}
bool same(const SortRecord& a, const SortRecord& b) {
    return a.digest == b.digest && a.file == b.file && a.index == b.index && a.physical == b.physical;
}
// Equal keys may come out in any order: compare the multisets of each key run.
bool same_run(std::vector<SortRecord> a, std::vector<SortRecord> b) {
    const auto full = [](const SortRecord& x, const SortRecord& y) {
        return std::tie(x.digest, x.file, x.index, x.physical) < std::tie(y.digest, y.file, y.index, y.physical);
    };
    std::sort(a.begin(), a.end(), full);
    std::sort(b.begin(), b.end(), full);
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), same);
}

std::vector<SortRecord> sorted_by(ExternalSorter& sorter) {
    std::vector<SortRecord> out;
    EXPECT_TRUE(sorter.drain([&](const SortRecord& r) {
        out.push_back(r);
        return true;
    }));
    return out;
}

// digest_hi(i) picks how skewed the digests are.
void check(std::size_t n, std::size_t memory, std::uint64_t (*digest_hi)(std::mt19937_64&)) {
    TempDir tmp;
    std::mt19937_64 rng(n);
    std::vector<SortRecord> input;
    for (std::size_t i = 0; i < n; ++i) {
        input.push_back(SortRecord{Digest{digest_hi(rng), rng() % 4}, static_cast<std::int64_t>(rng() % 1000),
                                   rng() % 100000, rng()});
    }
    ExternalSorter sorter(tmp.path(), memory);
    for (const auto& r : input) sorter.add(r);
    const auto got = sorted_by(sorter);
    std::sort(input.begin(), input.end(), less);
    ASSERT_EQ(got.size(), input.size());
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end(), less));
    EXPECT_TRUE(same_run(got, input));
    // Nothing left behind: partitions are unnamed files.
    EXPECT_TRUE(std::filesystem::is_empty(tmp.path()));
}

TEST(CatalogExternalSort, InMemory) {
    check(5000, 1 << 20, [](std::mt19937_64& r) -> std::uint64_t { return r(); });
}

TEST(CatalogExternalSort, SpillsToPartitions) {
    check(50000, 1, [](std::mt19937_64& r) -> std::uint64_t { return r(); });  // 1024 records in memory
}

TEST(CatalogExternalSort, RepartitionsSkewedDigests) {
    // Only 3 values of the first byte, then 4 of the second: partitions split several levels.
    check(60000, 1, [](std::mt19937_64& r) -> std::uint64_t {
        return ((r() % 3) << 56) | ((r() % 4) << 48) | (r() & 0xffffffffffffULL);
    });
}

TEST(CatalogExternalSort, OneDigestBeyondMemoryStillSorts) {
    check(5000, 1, [](std::mt19937_64&) -> std::uint64_t { return 42; });
}

TEST(CatalogExternalSort, StopsEarly) {
    TempDir tmp;
    ExternalSorter sorter(tmp.path(), 1);
    for (std::uint64_t i = 0; i < 10000; ++i) sorter.add(SortRecord{Digest{i * 0x9E3779B97F4A7C15ULL, 0}, 1, i, 0});
    int n = 0;
    EXPECT_FALSE(sorter.drain([&](const SortRecord&) { return ++n < 10; }));
    EXPECT_EQ(n, 10);
}

}  // namespace
}  // namespace rdd::catalog::detail
