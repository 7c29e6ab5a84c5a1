// build_report on a real catalog file: per-volume counts by state, duplicate and shared bytes
// (partial last blocks counted by their bytes), zero bytes, and totals that add up.
#include <gtest/gtest.h>

#include <filesystem>

#include "reflinkdedup/catalog/busy_files.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/write_batch.hpp"
#include "reflinkdedup/report/catalog_report.hpp"
#include "support/loop_filesystem.hpp"  // TempDir

namespace rdd::report {
namespace {

using namespace rdd::catalog;
constexpr std::uint32_t kBlock = 4096;

class CatalogReportTest : public ::testing::Test {
protected:
    std::filesystem::path db() const { return dir_.path() / "c.sqlite"; }

    static FileRecord file(std::uint64_t ino, VolumeId volume, std::uint64_t size, FileState state = FileState::hashed) {
        FileRecord r;
        r.identity = FileIdentity{volume == 1 ? 5u : 6u, ino, 1};
        r.volume = volume;
        r.size = size;
        r.path = "f" + std::to_string(ino);
        r.state = state;
        return r;
    }
    static Block block(std::uint64_t index, std::uint64_t content, std::uint64_t physical) {
        return Block{index, Digest{content, content * 7 + 1}, physical, false};
    }

    rdd::test::TempDir dir_{rdd::test::test_tmp_base()};
};

TEST_F(CatalogReportTest, CountsPerVolumeAndTotal) {
    {
        OpenOptions o;
        o.block_size = kBlock;
        Catalog cat = Catalog::open_writer(db(), o);
        const VolumeId v1 = cat.add_volume(5, "/mnt/a");
        const VolumeId v2 = cat.add_volume(6, "/mnt/b");
        const VolumeId v3 = cat.add_volume(7, "/mnt/empty");
        ASSERT_EQ(v1, 1);
        ASSERT_EQ(v2, 2);
        (void)v3;
        const Epoch e1 = cat.begin_pass(v1);
        WriteBatch batch(cat, e1);
        // a: 3 blocks (A B C) at 1000..1002; a2 in volume 1 reflinks a's first two blocks
        // (same physical) and has its own copy of C; b in volume 2: copies of A and B, and a
        // 100-byte tail equal to t's tail.
        const std::vector<Block> a{block(0, 1, 1000), block(1, 2, 1001), block(2, 3, 1002)};
        (void)batch.put_file(file(10, v1, 3 * kBlock), a);
        const std::vector<Block> a2{block(0, 1, 1000), block(1, 2, 1001), block(2, 3, 2002)};
        const FileId a2_id = batch.put_file(file(11, v1, 3 * kBlock), a2);
        const std::vector<Block> b{block(0, 1, 3000), block(1, 2, 3001), block(2, 9, 3002)};
        (void)batch.put_file(file(20, v2, 2 * kBlock + 100), b);
        const std::vector<Block> t{block(0, 9, 4000)};
        (void)batch.put_file(file(21, v2, 100), t);
        // zeros: a file of two zero blocks and a 4096+50-byte file whose last (partial) block is zero.
        const std::vector<Block> z{Block{0, {}, 0, true}, Block{1, {}, 0, true}};
        (void)batch.put_file(file(22, v2, 2 * kBlock), z);
        const std::vector<Block> zt{block(0, 42, 5000), Block{1, {}, 0, true}};
        (void)batch.put_file(file(23, v2, kBlock + 50), zt);
        const FileId busy_id = batch.put_file(file(24, v2, 777, FileState::busy_retry), {});
        (void)batch.put_file(file(25, v2, 1, FileState::failed), {});
        batch.commit();
        // dedup-vol found a2 and the already busy file in write use: the retry list.
        const std::vector<BusyRecord> skipped{{a2_id, "in write use: pid 42 (vim)", 42, "vim"},
                                              {busy_id, "in write use: pid 43 (cat)", 43, "cat"}};
        record_busy(cat, std::span(skipped).first(1), 1000);
        record_busy(cat, std::span(skipped).subspan(1), 2000);
    }
    const Catalog cat = Catalog::open_reader(db());
    const CatalogReport r = build_report(cat);
    EXPECT_EQ(r.block_size, kBlock);
    ASSERT_EQ(r.volumes.size(), 3u);

    const VolumeReport& a = r.volumes[0];
    EXPECT_EQ(a.volume.path, "/mnt/a");
    EXPECT_EQ(a.summary.counts.files, 2u);
    EXPECT_EQ(a.summary.counts.bytes, 6u * kBlock);
    // Groups in catalog order: A,B: a (first copy), a2 shares; C: a, a2 a second copy.
    EXPECT_EQ(a.summary.duplicates.shared_bytes, 2u * kBlock);
    EXPECT_EQ(a.summary.duplicates.duplicate_bytes, 1u * kBlock);
    EXPECT_EQ(a.summary.counts.busy, 1u);  // on the retry list

    const VolumeReport& b = r.volumes[1];
    EXPECT_EQ(b.summary.counts.files, 6u);
    EXPECT_EQ(b.summary.counts.busy, 1u);  // busy when scanned and on the list: once
    EXPECT_EQ(b.summary.counts.failed, 1u);
    EXPECT_EQ(b.summary.counts.hashed, 4u);
    // A and B copied (2 blocks), the 100-byte tail once beyond its first copy.
    EXPECT_EQ(b.summary.duplicates.duplicate_bytes, 2u * kBlock + 100);
    EXPECT_EQ(b.summary.duplicates.shared_bytes, 0u);
    EXPECT_EQ(b.summary.counts.zero_bytes, 2u * kBlock + 50);

    const VolumeReport& empty = r.volumes[2];
    EXPECT_EQ(empty.volume.path, "/mnt/empty");
    EXPECT_EQ(empty.summary.counts.files, 0u);

    EXPECT_EQ(r.total.counts.files, 8u);
    EXPECT_EQ(r.total.duplicates.duplicate_bytes, 3u * kBlock + 100);
    EXPECT_EQ(r.total.duplicates.shared_bytes, 2u * kBlock);
    EXPECT_EQ(r.duplicate_groups, 4u);  // A, B, C, the tail
    EXPECT_FALSE(r.freed_bytes);        // the catalog records no freed bytes
    EXPECT_EQ(r.total.counts.busy, 2u);
    ASSERT_EQ(r.busy_listed_total, 2u);
    ASSERT_EQ(r.busy.size(), 2u);
    EXPECT_EQ(r.busy[0].comm, "cat");  // most recent first
    EXPECT_EQ(r.busy[1].path, "f11");
    EXPECT_EQ(r.busy[1].pid, 42);
}

TEST_F(CatalogReportTest, EmptyCatalog) {
    OpenOptions o;
    o.block_size = kBlock;
    { const Catalog cat = Catalog::open_writer(db(), o); }
    const CatalogReport r = build_report(Catalog::open_reader(db()));
    EXPECT_TRUE(r.volumes.empty());
    EXPECT_EQ(r.total.counts.files, 0u);
    EXPECT_EQ(r.duplicate_groups, 0u);
}

}  // namespace
}  // namespace rdd::report
