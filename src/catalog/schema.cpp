// Catalog schema, version 1, and its migrations (versions 2 to 5 below, at their steps).
//
// DESIGN (shaped by insert speed at 10^8 block rows; numbers below, from tests/bench)
// * block: WITHOUT ROWID, primary key (file_id, blk). File ids only grow (AUTOINCREMENT) and a
//   file's blocks are written together, so inserts append at the right edge of one B-tree: the
//   pages being written are always the same few, whatever the catalog's size. The digest is a
//   16-byte blob (big-endian: blob order = digest order), the physical address a varint (NULL =
//   unknown: 0 bytes). ~31 bytes of payload, ~38 on disk (appended index b-tree leaves end
//   ~88% full; page sizes of 4-64 KiB change neither that nor the speed by >10%: 4096 kept).
//   Rows go in 32 per INSERT: one statement run keeps the B-tree cursor at the insertion
//   point instead of descending from the root for every row.
// * zero_run: all-zero blocks are not rows but runs (file_id, first_blk, blocks); a sparse or
//   zero-filled GiB costs one row.
// * No index on the block digest. A random-keyed index is what makes naive stores slow down
//   once it no longer fits in cache (every insert becomes a random page read+write); a second
//   copy of digest + key would also cost 20-30 bytes per row (measured: 68 bytes/row in all).
//   Duplicates are found in bulk, when the planner asks, in bounded memory
//   (duplicate_blocks.cpp):
//     - sort:  one sequential scan of block into an external sort (memory budget, then
//              partitions by digest byte in unnamed temp files), grouped as it streams out;
//     - probe: a nightly run only needs groups touching blocks hashed since an epoch: those
//              digests go into an in-memory set (with a bit filter), one scan of block keeps
//              the occurrences of them only, and only those are sorted.
//   Random lookups of new digests would need the index this avoids; one sequential scan
//   (8 s per 10^8 rows from the page cache) serves any number of them at once.
// * file: rowid table, ids never reused (a journal or a plan naming a deleted file's id must
//   not hit a newer file), identity (subvol, ino, gen) unique; display path, size, times,
//   content digest, state, seen_epoch (last pass that saw it: files not seen in a full pass
//   are deleted) and hashed_epoch (pass that wrote its blocks: where the probe starts). One
//   row per ~256 blocks: its random-keyed identity index stays small (8 MiB at 10^8 blocks).
// * volume: scan roots (btrfs subvolume by id, or a directory by path) with the generation and
//   state of the last complete scan.
//
// MEASUREMENTS (scripts/bench-catalog.sh 1e8 [--query-at 1e7,1e8]; Debian 12 VM, 2 vCPUs
// shared with other people's builds and tests, ext4 on virtio; files of 128-384 blocks, 20% of
// the blocks duplicates in runs of 16; insert rate over the last 10^6 rows before each point
// of one growing catalog; CPU = process CPU time per row, which the machine's other load
// leaves alone; wall-clock rates moved by up to 30% between runs with it):
//                              10^6 rows      10^7 rows      10^8 rows
//   rows/s, inodes unordered   2.35 M         2.23 M         1.94 M    (-17%)
//     (another run)            2.05 M         2.28 M         1.38 M    (-33%, machine busy)
//   CPU per row                0.39 us        0.39-0.41 us   0.42 us   (+5..8%)
//   rows/s, inodes ascending   1.92 M         2.08 M         2.12 M    (flat)
//   bytes per block row        38.8           39.0           39.9      (file table included)
//   same + index on digest     0.21 M rows/s  0.056 M rows/s (3.7x slower already), 68.5 B/row
// What remains of the slowdown with unordered inodes is the file identity index (random by
// inode, one insert per file): its pages are written back scattered, and the fsyncs of the
// checkpoints grew from 7 to 15 ms as the file grew. Scans that deliver inodes in order (btrfs
// tree search, XFS bulkstat, a walk that sorts entries by inode) do not pay it.
// Multi-row INSERTs (write_batch.cpp) took CPU per row from 0.65-0.75 us to 0.39-0.42 us.
// Files fed one block at a time with 32 files open at once: 0.56-0.59 us/row, 39.9 bytes/row.
// Duplicate-block query, all groups: 2.2-2.4 s at 10^7, 29-42 s at 10^8 (SQLite's own ORDER BY
// digest: 12-14 s at 10^7). Nightly, after a 1% increment: probe 0.9 s at 10^7, 11-17 s at
// 10^8 (a plain scan of block is 8 s of it); the same groups by sort 2.5-3.1 s / 30-37 s.
// Memory: 233 MB peak RSS for the whole benchmark (64 MiB page cache, 64 MiB sort budget).
#include "reflinkdedup/catalog/schema.hpp"

#include <stdexcept>
#include <string>

#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/catalog/sqlite.hpp"

namespace rdd::catalog {

namespace {

void create_v1(const Connection& conn) {
    conn.exec(R"sql(
        PRAGMA application_id = 1380205635;
        CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
        INSERT INTO meta(key, value) VALUES ('digest_algorithm', 'xxh3-128'), ('epoch', 0);

        CREATE TABLE volume(
            id INTEGER PRIMARY KEY,
            subvol_id INTEGER NOT NULL,
            path TEXT NOT NULL,
            last_generation INTEGER NOT NULL DEFAULT 0,
            scan_state INTEGER NOT NULL DEFAULT 0,
            last_epoch INTEGER NOT NULL DEFAULT 0);
        CREATE UNIQUE INDEX volume_by_subvol ON volume(subvol_id) WHERE subvol_id <> 0;
        CREATE UNIQUE INDEX volume_by_path ON volume(path) WHERE subvol_id = 0;

        CREATE TABLE file(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            subvol INTEGER NOT NULL,
            ino INTEGER NOT NULL,
            gen INTEGER NOT NULL,
            volume_id INTEGER NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            ctime_ns INTEGER NOT NULL,
            state INTEGER NOT NULL,
            seen_epoch INTEGER NOT NULL,
            hashed_epoch INTEGER NOT NULL,
            digest BLOB,
            path TEXT NOT NULL);
        CREATE UNIQUE INDEX file_by_identity ON file(subvol, ino, gen);

        CREATE TABLE block(
            file_id INTEGER NOT NULL,
            blk INTEGER NOT NULL,
            digest BLOB NOT NULL,
            phys INTEGER,
            PRIMARY KEY(file_id, blk)) WITHOUT ROWID;

        CREATE TABLE zero_run(
            file_id INTEGER NOT NULL,
            first_blk INTEGER NOT NULL,
            blocks INTEGER NOT NULL,
            PRIMARY KEY(file_id, first_blk)) WITHOUT ROWID;
    )sql");
}

// Version 2: runs of a file's blocks that lie contiguously on disk, keyed by their physical
// start, so a file that shares data with a catalogued one (a reflink copy, a snapshot) finds
// its digests without reading. One row per run (about one per extent), not per block; rows of
// files that changed or went are not deleted (no index on file_id): every lookup is checked
// against the block table, and a later run at the same address replaces the row.
void create_v2(const Connection& conn) {
    conn.exec(R"sql(
        CREATE TABLE extent(
            phys INTEGER PRIMARY KEY,
            file_id INTEGER NOT NULL,
            first_blk INTEGER NOT NULL,
            blocks INTEGER NOT NULL);
    )sql");
}

// Version 3: what the locker must remember across runs (both tiny, written a row at a time).
// * freeze_journal: the write-ahead journal of --lock=immutable. A row is committed, and the
//   WAL fsynced, before FS_IMMUTABLE_FL is set on its file, and deleted only once the file's
//   original flags are back on disk, so a row still here when the writer lock is free names a
//   file a dead run may have left frozen. Keyed like lock::FreezeEntry (filesystem, subvolume,
//   inode, generation); the path is only how to find the file again. Never cleared by reset.
// * busy_file: the retry list. Files dedup-vol skipped because someone wrote them (a refused
//   or broken lease, a writer found in /proc), with why and who; tried first by the next run,
//   dropped once done. Rows whose file row is gone are dropped on use (no trigger on file:
//   it would take the truncate path away from clear_data's DELETE).
void create_v3(const Connection& conn) {
    conn.exec(R"sql(
        CREATE TABLE freeze_journal(
            fs TEXT NOT NULL,
            subvol INTEGER NOT NULL,
            ino INTEGER NOT NULL,
            gen INTEGER NOT NULL,
            flags INTEGER NOT NULL,
            path TEXT NOT NULL,
            pid INTEGER NOT NULL,
            since INTEGER NOT NULL,
            PRIMARY KEY(fs, subvol, ino, gen)) WITHOUT ROWID;

        CREATE TABLE busy_file(
            file_id INTEGER PRIMARY KEY,
            reason TEXT NOT NULL,
            pid INTEGER,
            comm TEXT,
            first_seen INTEGER NOT NULL,
            last_seen INTEGER NOT NULL,
            times INTEGER NOT NULL);
    )sql");
}

// Version 4: btrfs directories of catalogued subvolumes, with how many entries each had at the
// last pass and the highest DIR_INDEX among them. An incremental scan asks a changed directory
// how many of its entries numbered <= max_index remain: fewer means an entry left (unlink,
// rename away) and only then is a full pass over every inode needed to find deleted files.
// One row per directory (~1% of the file rows in backup trees).
void create_v4(const Connection& conn) {
    conn.exec(R"sql(
        CREATE TABLE directory(
            subvol INTEGER NOT NULL,
            ino INTEGER NOT NULL,
            entries INTEGER NOT NULL,
            max_index INTEGER NOT NULL,
            PRIMARY KEY(subvol, ino)) WITHOUT ROWID;
    )sql");
}

// Version 5: the run log. One row per real dedup-vol run (what it shared and freed, how it
// ended), so `report` can tell the space freed so far. Kept by `reset`: it is history.
void create_v5(const Connection& conn) {
    conn.exec(R"sql(
        CREATE TABLE run(
            id INTEGER PRIMARY KEY,
            started INTEGER NOT NULL,
            finished INTEGER NOT NULL,
            command TEXT NOT NULL,
            outcome TEXT NOT NULL,
            bytes_shared INTEGER NOT NULL,
            bytes_freed INTEGER NOT NULL,
            dedupe_calls INTEGER NOT NULL,
            files_skipped INTEGER NOT NULL);
    )sql");
}

constexpr MigrationStep kSteps[] = {
    {1, "initial schema", &create_v1},
    {2, "extent runs by physical address", &create_v2},
    {3, "freeze journal and retry list of the locker", &create_v3},
    {4, "btrfs directory entry counts", &create_v4},
    {5, "run log", &create_v5},
};

static_assert(kApplicationId == 1380205635, "create_v1 spells the application id out");

// The version of a file that is ours (or empty); throws if it is some other database.
int owned_version(const Connection& conn) {
    const auto version = static_cast<int>(conn.query_int("PRAGMA user_version"));
    const auto app_id = conn.query_int("PRAGMA application_id");
    if (app_id == kApplicationId) return version;
    if (app_id == 0 && version == 0 && conn.query_int("SELECT count(*) FROM sqlite_schema") == 0) return 0;
    throw CatalogError(conn.path(), "an SQLite database, but not a reflinkdedup catalog (application_id " +
                                        std::to_string(app_id) + ")");
}

}  // namespace

std::span<const MigrationStep> migration_steps() noexcept { return kSteps; }

int current_schema_version() noexcept { return kSteps[std::size(kSteps) - 1].to_version; }

int schema_version(const Connection& conn) { return static_cast<int>(conn.query_int("PRAGMA user_version")); }

int migrate(const Connection& conn, std::span<const MigrationStep> steps) {
    for (std::size_t i = 0; i < steps.size(); ++i) {
        if (steps[i].to_version != static_cast<int>(i) + 1) throw std::logic_error("migration steps out of order");
    }
    const int target = static_cast<int>(steps.size());
    int version = owned_version(conn);
    if (version > target) throw SchemaTooNewError(conn.path(), version, target);
    for (; version < target; ++version) {
        const auto& step = steps[static_cast<std::size_t>(version)];
        Transaction tx(conn);
        // Re-read under the write lock: another process may have migrated meanwhile.
        if (schema_version(conn) != version) return migrate(conn, steps);
        step.apply(conn);
        conn.exec("PRAGMA user_version = " + std::to_string(step.to_version));
        tx.commit();
    }
    return version;
}

void require_version(const Connection& conn, std::span<const MigrationStep> steps) {
    const int target = static_cast<int>(steps.size());
    const int version = owned_version(conn);
    if (version > target) throw SchemaTooNewError(conn.path(), version, target);
    if (version < target) {
        throw CatalogError(conn.path(), "catalog schema version " + std::to_string(version) + " needs an upgrade to " +
                                            std::to_string(target) + ": open it for writing once");
    }
}

void clear_data(const Connection& conn) {
    // DELETE without WHERE takes SQLite's truncate path: pages are freed without visiting rows.
    conn.exec("DELETE FROM block; DELETE FROM zero_run; DELETE FROM file; DELETE FROM volume;");
    const auto has_table = [&](const char* name) {
        Statement st(conn, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1");
        st.bind(1, std::string_view(name));
        return st.step() && st.column_int(0) != 0;
    };
    if (has_table("extent")) conn.exec("DELETE FROM extent;");
    // The retry list names files; the freeze journal names flags on disk and stays.
    if (has_table("busy_file")) conn.exec("DELETE FROM busy_file;");
    if (has_table("directory")) conn.exec("DELETE FROM directory;");
}

}  // namespace rdd::catalog
