// Schema v3: the freeze journal (own connection, fsynced commits, visible to the next writer)
// and the retry list (busy files), and the migration from version 2 that adds them.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

#include "catalog_test_support.hpp"
#include "reflinkdedup/catalog/busy_files.hpp"
#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/catalog/freeze_journal_rows.hpp"
#include "reflinkdedup/catalog/open_hook.hpp"
#include "reflinkdedup/catalog/schema.hpp"
#include "reflinkdedup/catalog/sqlite.hpp"

namespace rdd::catalog {
namespace {

using testing::TempDir;

bool has_table(const Connection& conn, const std::string& name) {
    Statement st(conn, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1");
    st.bind(1, name);
    return st.step() && st.column_int(0) == 1;
}

FreezeRow row(std::uint64_t ino, std::uint32_t flags = 0x80000, std::string fs = "uuid-1") {
    FreezeRow r;
    r.filesystem = std::move(fs);
    r.identity = {5, ino, 7};
    r.original_flags = flags;
    r.path = "/mnt/x/file" + std::to_string(ino);
    r.pid = 4242;
    r.since = 1'700'000'000;
    return r;
}

FileId put(Catalog& c, VolumeId v, std::uint64_t ino) {
    WriteBatch b(c, c.begin_pass(v));
    const FileId id = b.put_file(testing::record(ino, 1, {}, v), testing::blocks(ino * 100, 2));
    b.commit();
    return id;
}

TEST(CatalogMigration, AVersionTwoCatalogGainsTheLockerTablesAndKeepsItsData) {
    TempDir dir;
    const std::string path = (dir.path() / "v2.sqlite").string();
    {
        Connection conn(path, Connection::Mode::read_write);
        EXPECT_EQ(migrate(conn, migration_steps().first(2)), 2);
        conn.exec("INSERT INTO meta(key, value) VALUES ('block_size', 4096)");
        conn.exec("INSERT INTO volume(subvol_id, path) VALUES (0, '/x')");
        conn.exec(
            "INSERT INTO file(subvol, ino, gen, volume_id, size, mtime_ns, ctime_ns, state, seen_epoch, hashed_epoch, path)"
            " VALUES (5, 9, 1, 1, 4096, 1, 2, 1, 1, 1, 'f')");
        EXPECT_FALSE(has_table(conn, "freeze_journal"));
        EXPECT_FALSE(has_table(conn, "busy_file"));
    }
    Catalog cat = Catalog::open_writer(path, OpenOptions{});
    EXPECT_EQ(schema_version(cat.connection()), current_schema_version());
    EXPECT_TRUE(has_table(cat.connection(), "freeze_journal"));
    EXPECT_TRUE(has_table(cat.connection(), "busy_file"));
    ASSERT_EQ(cat.volumes().size(), 1U);
    const auto f = cat.find_file({5, 9, 1});
    ASSERT_TRUE(f.has_value());
    EXPECT_TRUE(busy_files(cat).empty());
    EXPECT_TRUE(pending_freezes(cat).empty());
    // The new tables work on the migrated file.
    const BusyRecord rec{f->id, "in write use", 1, "x"};
    record_busy(cat, std::span(&rec, 1), 10);
    EXPECT_EQ(busy_files(cat).size(), 1U);
}

TEST(FreezeJournalRows, RecordIsCommittedAndFsyncedOnItsOwnConnection) {
    TempDir dir;
    const auto db = dir.path() / "c.sqlite";
    Catalog cat = Catalog::open_writer(db, testing::writer_options());
    FreezeJournalRows journal(cat);
    EXPECT_EQ(journal.connection().query_int("PRAGMA synchronous"), 2);  // FULL: commit fsyncs the WAL
    EXPECT_EQ(journal.connection().query_text("PRAGMA journal_mode"), "wal");

    const std::vector<FreezeRow> rows{row(1), row(2, 0x10)};
    journal.record(rows);
    // Committed: the catalog's own connection and a reader see it at once.
    EXPECT_EQ(pending_freezes(cat).size(), 2U);
    const Catalog reader = Catalog::open_reader(db);
    const auto seen = pending_freezes(reader);
    ASSERT_EQ(seen.size(), 2U);
    EXPECT_EQ(seen[0].path, rows[0].path);
    EXPECT_EQ(seen[0].original_flags, 0x80000U);
    EXPECT_EQ(seen[0].pid, 4242);
    EXPECT_EQ(seen[1].identity, rows[1].identity);
    EXPECT_EQ(seen[1].original_flags, 0x10U);

    // Same key: replaced, not added. forget of a missing key: ignored.
    FreezeRow again = row(1, 0x4000);
    again.path = "/mnt/x/renamed";
    journal.record(std::span(&again, 1));
    journal.forget(std::vector<FreezeRow>{row(2), row(99)});
    const auto left = journal.pending();
    ASSERT_EQ(left.size(), 1U);
    EXPECT_EQ(left[0].path, "/mnt/x/renamed");
    EXPECT_EQ(left[0].original_flags, 0x4000U);
    // Another filesystem with the same identity is another entry.
    journal.record(std::vector<FreezeRow>{row(1, 0, "uuid-2")});
    EXPECT_EQ(journal.pending().size(), 2U);
    EXPECT_EQ(journal.connection().query_int("PRAGMA synchronous"), 2);  // forget's NORMAL did not stick
}

TEST(FreezeJournalRows, NeedsTheWriterAndAnIdleCatalogConnection) {
    TempDir dir;
    const auto db = dir.path() / "c.sqlite";
    {
        Catalog cat = Catalog::open_writer(db, testing::writer_options());
        (void)cat.add_volume(0, "/v");
    }
    const Catalog reader = Catalog::open_reader(db);
    EXPECT_THROW(FreezeJournalRows{reader}, std::logic_error);

    Catalog cat = Catalog::open_writer(db, testing::writer_options());
    FreezeJournalRows journal(cat);
    const VolumeId v = cat.volumes().front().id;
    WriteBatch batch(cat, cat.begin_pass(v));
    (void)batch.put_file(testing::record(1, 1, {}, v), testing::blocks(0, 1));
    // The batch's transaction is open: SQLite would make the journal wait; it refuses at once.
    EXPECT_THROW(journal.record(std::vector<FreezeRow>{row(1)}), std::logic_error);
    batch.commit();
    journal.record(std::vector<FreezeRow>{row(1)});
    EXPECT_EQ(journal.pending().size(), 1U);
}

// A process that records and dies without closing anything: the next writer finds the rows.
TEST(FreezeJournalRows, RowsOfAKilledWriterAreFoundByTheNextOne) {
    TempDir dir;
    const auto db = dir.path() / "c.sqlite";
    { (void)Catalog::open_writer(db, testing::writer_options()); }
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
        Catalog cat = Catalog::open_writer(db, testing::writer_options());
        FreezeJournalRows journal(cat);
        journal.record(std::vector<FreezeRow>{row(1), row(2)});
        (void)!::write(ready[1], "y", 1);
        for (;;) ::pause();
    }
    char c = 0;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);

    std::vector<FreezeRow> seen_by_hook;
    const ScopedWriterOpenHook hook([&](Catalog& opened) { seen_by_hook = pending_freezes(opened); });
    Catalog next = Catalog::open_writer(db, OpenOptions{});
    EXPECT_EQ(seen_by_hook.size(), 2U);
    EXPECT_EQ(pending_freezes(next).size(), 2U);
}

TEST(CatalogWriterOpenHook, RunsOnWriterOpensOnlyAndNests) {
    TempDir dir;
    const auto db = dir.path() / "c.sqlite";
    int outer = 0, inner = 0;
    const ScopedWriterOpenHook a([&](Catalog& c) {
        EXPECT_TRUE(c.writable());
        ++outer;
    });
    { (void)Catalog::open_writer(db, testing::writer_options()); }
    EXPECT_EQ(outer, 1);
    {
        const ScopedWriterOpenHook b([&](Catalog&) { ++inner; });
        { (void)Catalog::open_writer(db, OpenOptions{}); }
        { (void)Catalog::open_reader(db); }
    }
    { (void)Catalog::open_writer(db, OpenOptions{}); }
    EXPECT_EQ(outer, 2);
    EXPECT_EQ(inner, 1);
    {
        const ScopedWriterOpenHook failing([](Catalog&) { throw std::runtime_error("repair failed"); });
        EXPECT_THROW((void)Catalog::open_writer(db, OpenOptions{}), std::runtime_error);
    }
    { (void)Catalog::open_writer(db, OpenOptions{}); }  // the writer lock was not left held
    EXPECT_EQ(outer, 3);
}

TEST(BusyFiles, RecordUpdateClearAndPrune) {
    TempDir dir;
    Catalog cat = Catalog::open_writer(dir.path() / "c.sqlite", testing::writer_options());
    const VolumeId v = cat.add_volume(0, "/v");
    const FileId a = put(cat, v, 1), b = put(cat, v, 2), c = put(cat, v, 3);

    const std::vector<BusyRecord> first{{a, "in write use: pid 10 (vim)", 10, "vim"}, {b, "lease broken", 0, ""}};
    record_busy(cat, first, 100);
    const BusyRecord again{a, "in write use: pid 11 (dd)", 11, "dd"};
    record_busy(cat, std::span(&again, 1), 200);

    auto list = busy_files(cat);
    ASSERT_EQ(list.size(), 2U);
    EXPECT_EQ(list[0].file, a);  // most recently skipped first
    EXPECT_EQ(list[0].reason, "in write use: pid 11 (dd)");
    EXPECT_EQ(list[0].pid, 11);
    EXPECT_EQ(list[0].comm, "dd");
    EXPECT_EQ(list[0].first_seen, 100);
    EXPECT_EQ(list[0].last_seen, 200);
    EXPECT_EQ(list[0].times, 2);
    EXPECT_EQ(list[0].volume, v);
    EXPECT_EQ(list[0].path, "dir/file1");
    EXPECT_EQ(list[1].file, b);
    EXPECT_EQ(list[1].pid, 0);
    EXPECT_EQ(list[1].comm, "");

    // Gone: the file row is deleted; the list no longer shows it, prune drops the row.
    EXPECT_TRUE(cat.delete_file(b));
    EXPECT_EQ(busy_files(cat).size(), 1U);
    EXPECT_EQ(prune_busy_files(cat), 1U);
    EXPECT_EQ(cat.connection().query_int("SELECT count(*) FROM busy_file"), 1);

    record_busy(cat, std::vector<BusyRecord>{{c, "x", 0, ""}}, 300);
    EXPECT_EQ(clear_busy(cat, std::vector<FileId>{a, 12345}), 1U);
    ASSERT_EQ(busy_files(cat).size(), 1U);
    record_busy(cat, std::vector<BusyRecord>{{a, "y", 0, ""}}, 400);
    EXPECT_EQ(clear_busy_except(cat, std::vector<FileId>{a}), 1U);
    list = busy_files(cat);
    ASSERT_EQ(list.size(), 1U);
    EXPECT_EQ(list[0].file, a);
    EXPECT_EQ(list[0].times, 1);  // cleared, then busy again: counted afresh

    // Readers see the list; only writers change it.
    Catalog reader = Catalog::open_reader(cat.path());
    EXPECT_EQ(busy_files(reader).size(), 1U);
    EXPECT_THROW(record_busy(reader, std::vector<BusyRecord>{{c, "z", 0, ""}}, 1), CatalogError);
}

TEST(BusyFiles, ResetEmptiesTheListButKeepsTheFreezeJournal) {
    TempDir dir;
    Catalog cat = Catalog::open_writer(dir.path() / "c.sqlite", testing::writer_options());
    const VolumeId v = cat.add_volume(0, "/v");
    const FileId a = put(cat, v, 1);
    record_busy(cat, std::vector<BusyRecord>{{a, "busy", 0, ""}}, 1);
    {
        FreezeJournalRows journal(cat);
        journal.record(std::vector<FreezeRow>{row(1)});
    }
    cat.reset();
    EXPECT_EQ(cat.connection().query_int("SELECT count(*) FROM busy_file"), 0);
    EXPECT_EQ(pending_freezes(cat).size(), 1U);  // flags on disk do not go away with the data
}

}  // namespace
}  // namespace rdd::catalog
