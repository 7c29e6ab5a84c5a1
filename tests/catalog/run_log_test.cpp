// Schema v5's run log, and block addresses written back after dedup-vol moved data.
#include "catalog_test_support.hpp"
#include "reflinkdedup/catalog/block_physical.hpp"
#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/catalog/run_log.hpp"
#include "reflinkdedup/catalog/schema.hpp"

namespace rdd::catalog {
namespace {

using testing::TempDir;
using testing::blocks;
using testing::read_blocks;
using testing::record;

TEST(CatalogRunLog, AVersionFourCatalogGainsTheRunLogAndSumsItsRuns) {
    TempDir dir;
    const std::string path = (dir.path() / "v4.sqlite").string();
    {
        Connection conn(path, Connection::Mode::read_write);
        EXPECT_EQ(migrate(conn, migration_steps().first(4)), 4);
        conn.exec("INSERT INTO meta(key, value) VALUES ('block_size', 65536)");
    }
    Catalog cat = Catalog::open_writer(path, OpenOptions{});
    EXPECT_EQ(schema_version(cat.connection()), current_schema_version());
    RunTotals none = run_totals(cat);
    EXPECT_EQ(none.runs, 0u);
    EXPECT_EQ(none.bytes_freed, 0);
    EXPECT_FALSE(none.last.has_value());

    record_run(cat, {100, 160, "dedup-vol", "done", 5000, 4096, 3, 0});
    record_run(cat, {200, 230, "dedup-vol", "partial", 700, -12, 1, 2});  // metadata can cost a little
    const RunTotals t = run_totals(cat);
    EXPECT_EQ(t.runs, 2u);
    EXPECT_EQ(t.bytes_shared, 5700u);
    EXPECT_EQ(t.bytes_freed, 4084);
    ASSERT_TRUE(t.last.has_value());
    EXPECT_EQ(t.last->started, 200);
    EXPECT_EQ(t.last->finished, 230);
    EXPECT_EQ(t.last->outcome, "partial");
    EXPECT_EQ(t.last->bytes_freed, -12);
    EXPECT_EQ(t.last->files_skipped, 2u);

    // History survives a reset (what was freed stays freed) and is readable by a reader.
    cat.reset();
    const Catalog reader = Catalog::open_reader(path);
    EXPECT_EQ(run_totals(reader).runs, 2u);
}

TEST(CatalogRunLog, OnlyTheWriterRecords) {
    TempDir dir;
    const auto path = dir.path() / "c.sqlite";
    { const Catalog created = Catalog::open_writer(path, testing::writer_options()); }
    Catalog reader = Catalog::open_reader(path);
    EXPECT_THROW(record_run(reader, {1, 2, "dedup-vol", "done", 0, 0, 0, 0}), CatalogError);
}

TEST(CatalogBlockPhysical, SetsTheListedRowsAndCountsWhatChanged) {
    TempDir dir;
    Catalog cat = Catalog::open_writer(dir.path() / "c.sqlite", testing::writer_options());
    const VolumeId volume = cat.add_volume(5, "/mnt");
    WriteBatch batch(cat, cat.begin_pass(volume));
    const FileId id = batch.put_file(record(42), blocks(0, 4));
    batch.commit();

    // Block 1 now lies at 9 MiB, block 2 at the same place as before, block 3 nowhere known,
    // block 7 has no row.
    const std::vector<BlockPhysical> now{{1, 9u << 20}, {2, 3 * 4096}, {3, 0}, {7, 1u << 30}};
    EXPECT_EQ(set_block_physical(cat, id, now), 2u);
    std::vector<Block> expected = blocks(0, 4);
    expected[1].physical = 9u << 20;
    expected[3].physical = 0;
    EXPECT_EQ(read_blocks(cat, id), expected);
    EXPECT_EQ(set_block_physical(cat, id, now), 0u);  // nothing left to change
}

}  // namespace
}  // namespace rdd::catalog
