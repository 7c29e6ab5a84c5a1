// Creating, reopening and refusing catalogs: modes, WAL, schema version, block size, corruption.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "catalog_test_support.hpp"
#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/catalog/schema.hpp"
#include "reflinkdedup/catalog/sqlite.hpp"

namespace rdd::catalog {
namespace {

using testing::TempDir;
using testing::mode_of;
using testing::writer_options;

void add_one_file(Catalog& c) {
    const VolumeId v = c.add_volume(5, "/mnt");
    const Epoch e = c.begin_pass(v);
    WriteBatch batch(c, e);
    (void)batch.put_file(testing::record(10, 1, "a", v), testing::blocks(0, 4));
    batch.commit();
}

TEST(CatalogOpen, CreatesPrivateDirectoryAndFiles) {
    TempDir tmp;
    ::umask(022);
    const auto dir = tmp.path() / "var" / "lib" / "reflinkdedup";
    const auto db = dir / "uuid.sqlite";
    {
        Catalog c = Catalog::open_writer(db, writer_options());
        add_one_file(c);
        EXPECT_TRUE(c.writable());
        EXPECT_EQ(c.block_size(), 4096U);
        EXPECT_EQ(mode_of(dir), 0700U);
        EXPECT_EQ(mode_of(tmp.path() / "var"), 0700U);
        EXPECT_EQ(mode_of(db), 0600U);
        EXPECT_EQ(mode_of(db.string() + ".lock"), 0600U);
        EXPECT_EQ(mode_of(db.string() + "-wal"), 0600U);
        EXPECT_EQ(mode_of(db.string() + "-shm"), 0600U);
    }
    // An existing directory keeps its mode; it is the caller's.
    ::chmod(dir.c_str(), 0750);
    (void)Catalog::open_writer(db, writer_options());
    EXPECT_EQ(mode_of(dir), 0750U);
}

TEST(CatalogOpen, TightensWiderModesOfAnExistingCatalog) {
    TempDir tmp;
    const auto db = tmp.path() / "c.sqlite";
    {
        Catalog c = Catalog::open_writer(db, writer_options());
        add_one_file(c);
    }
    ASSERT_EQ(::chmod(db.c_str(), 0644), 0);
    ASSERT_EQ(::chmod((db.string() + ".lock").c_str(), 0666), 0);
    (void)Catalog::open_writer(db, writer_options());
    EXPECT_EQ(mode_of(db), 0600U);
    EXPECT_EQ(mode_of(db.string() + ".lock"), 0600U);
}

TEST(CatalogOpen, UsesWalAndNormalSync) {
    TempDir tmp;
    Catalog c = Catalog::open_writer(tmp.path() / "c.sqlite", writer_options());
    EXPECT_EQ(c.connection().query_text("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(c.connection().query_int("PRAGMA synchronous"), 1);  // NORMAL
    EXPECT_LE(c.connection().query_int("PRAGMA cache_size"), -1024);  // KiB, not the 2 MiB default
    EXPECT_EQ(c.connection().query_int("PRAGMA wal_autocheckpoint"), 4096);
    // WAL is a property of the file: a plain connection sees it too.
    Connection raw((tmp.path() / "c.sqlite").string(), Connection::Mode::read_only);
    EXPECT_EQ(raw.query_text("PRAGMA journal_mode"), "wal");
}

TEST(CatalogOpen, ReopenKeepsDataAndBlockSize) {
    TempDir tmp;
    const auto db = tmp.path() / "c.sqlite";
    {
        Catalog c = Catalog::open_writer(db, writer_options(65536));
        add_one_file(c);
    }
    OpenOptions any;  // block size 0: whatever the catalog has
    Catalog c = Catalog::open_writer(db, any);
    EXPECT_EQ(c.block_size(), 65536U);
    const auto f = c.find_file(FileIdentity{5, 10, 1});
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(testing::read_blocks(c, f->id), testing::blocks(0, 4));

    Catalog r = Catalog::open_reader(db);
    EXPECT_FALSE(r.writable());
    EXPECT_EQ(r.block_size(), 65536U);
    EXPECT_TRUE(r.find_file(FileIdentity{5, 10, 1}).has_value());
    EXPECT_THROW(r.reset(), CatalogError);
}

TEST(CatalogOpen, NewCatalogNeedsABlockSize) {
    TempDir tmp;
    EXPECT_THROW((void)Catalog::open_writer(tmp.path() / "c.sqlite", OpenOptions{}), CatalogError);
    EXPECT_THROW((void)Catalog::open_writer(tmp.path() / "d.sqlite", writer_options(1000)), CatalogError);
    EXPECT_THROW((void)Catalog::open_reader(tmp.path() / "missing.sqlite"), CatalogError);
}

// A first scan killed after the schema was made but before the block size was stored: the
// next open that names a block size for new catalogs adopts it (a scan-vol must not exit 5).
TEST(CatalogOpen, InterruptedCreationGetsTheNewBlockSize) {
    TempDir tmp;
    const auto db = tmp.path() / "c.sqlite";
    {
        const Connection conn(db.string(), Connection::Mode::read_write);
        (void)migrate(conn, migration_steps());
    }
    EXPECT_THROW((void)Catalog::open_writer(db, OpenOptions{}), CatalogError);
    OpenOptions opt;
    opt.new_block_size = 8192;
    EXPECT_EQ(Catalog::open_writer(db, opt).block_size(), 8192U);
    EXPECT_EQ(Catalog::open_writer(db, OpenOptions{}).block_size(), 8192U);
    opt.new_block_size = 4096;  // only for a catalog that has none
    EXPECT_EQ(Catalog::open_writer(db, opt).block_size(), 8192U);
    EXPECT_EQ(Catalog::open_writer(tmp.path() / "new.sqlite", opt).block_size(), 4096U);
}

TEST(CatalogOpen, SchemaTooNewIsRefusedAndLeftAlone) {
    TempDir tmp;
    const auto db = tmp.path() / "c.sqlite";
    {
        Catalog c = Catalog::open_writer(db, writer_options());
        add_one_file(c);
        c.connection().exec("PRAGMA user_version = 99");
    }
    try {
        (void)Catalog::open_writer(db, writer_options());
        FAIL() << "no exception";
    } catch (const SchemaTooNewError& e) {
        EXPECT_EQ(e.found_version(), 99);
        EXPECT_EQ(e.supported_version(), current_schema_version());
        EXPECT_NE(std::string(e.what()).find(db.string()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
    }
    EXPECT_THROW((void)Catalog::open_reader(db), SchemaTooNewError);
    // Not rebuilt: the data and the version are still there.
    Connection raw(db.string(), Connection::Mode::read_only);
    EXPECT_EQ(raw.query_int("PRAGMA user_version"), 99);
    EXPECT_EQ(raw.query_int("SELECT count(*) FROM block"), 4);
}

TEST(CatalogOpen, BlockSizeMismatchIsAnErrorUnlessResetIsAsked) {
    TempDir tmp;
    const auto db = tmp.path() / "c.sqlite";
    {
        Catalog c = Catalog::open_writer(db, writer_options(4096));
        add_one_file(c);
    }
    try {
        (void)Catalog::open_writer(db, writer_options(8192));
        FAIL() << "no exception";
    } catch (const BlockSizeMismatchError& e) {
        EXPECT_EQ(e.stored(), 4096U);
        EXPECT_EQ(e.requested(), 8192U);
    }
    {
        Catalog c = Catalog::open_writer(db, writer_options(4096));
        EXPECT_EQ(c.stats().block_rows, 4);  // the refusal changed nothing
    }
    OpenOptions reset = writer_options(8192);
    reset.reset_on_block_size_change = true;
    Catalog c = Catalog::open_writer(db, reset);
    EXPECT_EQ(c.block_size(), 8192U);
    const auto s = c.stats();
    EXPECT_EQ(s.files, 0);
    EXPECT_EQ(s.block_rows, 0);
    EXPECT_EQ(s.volumes, 0);
}

TEST(CatalogOpen, ResetDropsAllFileAndBlockData) {
    TempDir tmp;
    Catalog c = Catalog::open_writer(tmp.path() / "c.sqlite", writer_options());
    add_one_file(c);
    ASSERT_EQ(c.stats().files, 1);
    c.reset();
    const auto s = c.stats();
    EXPECT_EQ(s.files, 0);
    EXPECT_EQ(s.block_rows, 0);
    EXPECT_EQ(s.zero_blocks, 0);
    EXPECT_EQ(s.volumes, 0);
    EXPECT_EQ(c.block_size(), 4096U);
    add_one_file(c);  // still usable
    EXPECT_EQ(c.stats().block_rows, 4);
}

TEST(CatalogOpen, GarbageFileIsAClearError) {
    TempDir tmp;
    const auto db = tmp.path() / "c.sqlite";
    {
        std::ofstream out(db, std::ios::binary);
        std::mt19937 rng(7);
        for (int i = 0; i < 65536; ++i) out.put(static_cast<char>(rng()));
    }
    try {
        (void)Catalog::open_writer(db, writer_options());
        FAIL() << "no exception";
    } catch (const CorruptCatalogError& e) {
        EXPECT_NE(std::string(e.what()).find(db.string()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("not a database"), std::string::npos) << e.what();
    }
    EXPECT_THROW((void)Catalog::open_reader(db), CorruptCatalogError);
}

TEST(CatalogOpen, DamagedPagesAreAClearError) {
    TempDir tmp;
    const auto db = tmp.path() / "c.sqlite";
    {
        Catalog c = Catalog::open_writer(db, writer_options());
        const VolumeId v = c.add_volume(5, "/mnt");
        WriteBatch batch(c, c.begin_pass(v));
        for (std::uint64_t f = 0; f < 200; ++f) (void)batch.put_file(testing::record(f + 1), testing::blocks(f * 100, 100));
        batch.commit();
        c.checkpoint();
    }
    // Keep the header page (the schema), overwrite everything after it.
    {
        const int fd = ::open(db.c_str(), O_WRONLY);
        ASSERT_GE(fd, 0);
        std::mt19937 rng(11);
        std::vector<char> junk(4096);
        const auto size = std::filesystem::file_size(db);
        for (off_t off = 4096; off < static_cast<off_t>(size); off += 4096) {
            for (char& ch : junk) ch = static_cast<char>(rng());
            ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), off), 4096);
        }
        ::close(fd);
    }
    EXPECT_THROW(
        {
            Catalog c = Catalog::open_writer(db, writer_options());
            c.check_integrity();
            c.for_each_duplicate_block_group([](const Digest&, std::span<const BlockOccurrence>) { return true; });
        },
        CorruptCatalogError);
}

TEST(CatalogOpen, OtherSqliteDatabaseIsNotACatalog) {
    TempDir tmp;
    const auto db = tmp.path() / "other.sqlite";
    {
        Connection raw(db.string(), Connection::Mode::read_write);
        raw.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)");
    }
    try {
        (void)Catalog::open_writer(db, writer_options());
        FAIL() << "no exception";
    } catch (const CatalogError& e) {
        EXPECT_NE(std::string(e.what()).find("not a reflinkdedup catalog"), std::string::npos) << e.what();
    }
    Connection raw(db.string(), Connection::Mode::read_only);
    EXPECT_EQ(raw.query_int("SELECT count(*) FROM t"), 1);
}

}  // namespace
}  // namespace rdd::catalog
