// Forward migrations, exercised with a fake version-2 step.
#include <stdexcept>
#include <vector>

#include "catalog_test_support.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/catalog/schema.hpp"
#include "reflinkdedup/catalog/sqlite.hpp"

namespace rdd::catalog {
namespace {

using testing::TempDir;

void add_fake_table(const Connection& conn) {
    conn.exec("CREATE TABLE fake_v2(x INTEGER); INSERT INTO fake_v2 SELECT count(*) FROM file;");
}

void failing_step(const Connection& conn) {
    conn.exec("CREATE TABLE half_done(x)");
    throw std::runtime_error("step failed");
}

std::vector<MigrationStep> with_step(void (*apply)(const Connection&)) {
    std::vector<MigrationStep> steps(migration_steps().begin(), migration_steps().end());
    steps.push_back(MigrationStep{static_cast<int>(steps.size()) + 1, "fake", apply});
    return steps;
}

bool has_table(const Connection& conn, const std::string& name) {
    Statement st(conn, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1");
    st.bind(1, name);
    return st.step() && st.column_int(0) == 1;
}

TEST(CatalogMigration, FreshFileGetsTheCurrentVersion) {
    TempDir tmp;
    Catalog c = Catalog::open_writer(tmp.path() / "c.sqlite", testing::writer_options());
    EXPECT_EQ(schema_version(c.connection()), current_schema_version());
    EXPECT_EQ(c.connection().query_int("PRAGMA application_id"), kApplicationId);
}

TEST(CatalogMigration, AppliesOnlyTheMissingSteps) {
    TempDir tmp;
    const auto db = tmp.path() / "c.sqlite";
    {
        Catalog c = Catalog::open_writer(db, testing::writer_options());
        const VolumeId v = c.add_volume(0, "/data");
        WriteBatch b(c, c.begin_pass(v));
        (void)b.put_file(testing::record(1, 1, "x", v), testing::blocks(0, 2));
        b.commit();
    }
    const auto steps = with_step(&add_fake_table);
    {
        Connection conn(db.string(), Connection::Mode::read_write);
        EXPECT_EQ(migrate(conn, steps), current_schema_version() + 1);
        EXPECT_EQ(schema_version(conn), current_schema_version() + 1);
        EXPECT_TRUE(has_table(conn, "fake_v2"));
        EXPECT_EQ(conn.query_int("SELECT x FROM fake_v2"), 1);  // ran on the existing data
        EXPECT_EQ(conn.query_int("SELECT count(*) FROM block"), 2);
        // Idempotent: nothing left to apply.
        EXPECT_EQ(migrate(conn, steps), current_schema_version() + 1);
    }
    // This build does not know version 2: refused.
    EXPECT_THROW((void)Catalog::open_writer(db, testing::writer_options()), SchemaTooNewError);
}

TEST(CatalogMigration, FailedStepLeavesThePreviousVersion) {
    TempDir tmp;
    const auto db = tmp.path() / "c.sqlite";
    { (void)Catalog::open_writer(db, testing::writer_options()); }
    Connection conn(db.string(), Connection::Mode::read_write);
    EXPECT_THROW((void)migrate(conn, with_step(&failing_step)), std::runtime_error);
    EXPECT_EQ(schema_version(conn), current_schema_version());
    EXPECT_FALSE(has_table(conn, "half_done"));
}

TEST(CatalogMigration, EmptyFileMigratesFromZeroThroughAllSteps) {
    TempDir tmp;
    Connection conn((tmp.path() / "c.sqlite").string(), Connection::Mode::read_write);
    EXPECT_EQ(schema_version(conn), 0);
    EXPECT_EQ(migrate(conn, with_step(&add_fake_table)), current_schema_version() + 1);
    EXPECT_TRUE(has_table(conn, "block"));
    EXPECT_TRUE(has_table(conn, "fake_v2"));
}

TEST(CatalogMigration, StepsOutOfOrderAreAProgrammingError) {
    TempDir tmp;
    Connection conn((tmp.path() / "c.sqlite").string(), Connection::Mode::read_write);
    std::vector<MigrationStep> steps{{2, "skips 1", &add_fake_table}};
    EXPECT_THROW((void)migrate(conn, steps), std::logic_error);
}

}  // namespace
}  // namespace rdd::catalog

namespace rdd::catalog {
namespace {

// The real step 2: a version-1 catalog opened by this build gains the extent table and keeps
// its data.
TEST(CatalogMigration, AVersionOneCatalogGainsTheExtentTable) {
    TempDir dir;
    const std::string path = (dir.path() / "v1.sqlite").string();
    {
        Connection conn(path, Connection::Mode::read_write);
        EXPECT_EQ(migrate(conn, migration_steps().first(1)), 1);
        conn.exec("INSERT INTO volume(subvol_id, path) VALUES (0, '/x')");
        EXPECT_FALSE(has_table(conn, "extent"));
    }
    OpenOptions o;
    o.block_size = 65536;
    const Catalog cat = Catalog::open_writer(path, o);
    EXPECT_EQ(schema_version(cat.connection()), current_schema_version());
    EXPECT_TRUE(has_table(cat.connection(), "extent"));
    EXPECT_EQ(cat.volumes().size(), 1U);
}

// The real step 4: a version-3 catalog gains the directory table; the table keeps one row per
// (subvolume, directory), and replacing a subvolume's rows leaves other subvolumes alone.
TEST(CatalogMigration, AVersionThreeCatalogGainsTheDirectoryTable) {
    TempDir dir;
    const std::string path = (dir.path() / "v3.sqlite").string();
    {
        Connection conn(path, Connection::Mode::read_write);
        EXPECT_EQ(migrate(conn, migration_steps().first(3)), 3);
        conn.exec("INSERT INTO meta(key, value) VALUES ('block_size', 65536)");
        EXPECT_FALSE(has_table(conn, "directory"));
    }
    Catalog cat = Catalog::open_writer(path, OpenOptions{});
    EXPECT_EQ(schema_version(cat.connection()), current_schema_version());
    EXPECT_FALSE(cat.directory(256, 300).has_value());
    cat.set_directory(256, {300, 4, 9});
    cat.set_directory(256, {300, 5, 10});  // replaces
    cat.set_directory(257, {300, 1, 2});
    ASSERT_TRUE(cat.directory(256, 300).has_value());
    EXPECT_EQ(cat.directory(256, 300)->entries, 5U);
    EXPECT_EQ(cat.directory(256, 300)->max_index, 10U);
    const std::vector<Catalog::DirectoryEntries> fresh{{256, 3, 4}, {301, 0, 0}};
    cat.replace_directories(256, fresh);
    EXPECT_FALSE(cat.directory(256, 300).has_value());
    EXPECT_EQ(cat.directory(256, 256)->entries, 3U);
    EXPECT_TRUE(cat.directory(256, 301).has_value());
    EXPECT_EQ(cat.directory(257, 300)->entries, 1U);  // another subvolume: untouched
    cat.reset();
    EXPECT_FALSE(cat.directory(257, 300).has_value());
}

}  // namespace
}  // namespace rdd::catalog
