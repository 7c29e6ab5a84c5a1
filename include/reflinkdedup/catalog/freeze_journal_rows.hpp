#pragma once
// The catalog's freeze journal (table freeze_journal, schema v3): rows the immutable-flag
// locker writes before it sets a flag and deletes once the original flags are back.
//
// Durability: the catalog's own connection runs synchronous=NORMAL (its commits reach the WAL
// but are fsynced only at checkpoints) and may be inside a scan's long WriteBatch transaction,
// where a commit would only end a savepoint. So a FreezeJournalRows has its own connection to
// the same file with synchronous=FULL: record() returns only once its rows are committed and
// the WAL fsynced (SQLite also fsyncs the directory of a WAL it has just created), which is
// what lets the caller set FS_IMMUTABLE_FL next. It needs the catalog's writer lock (the rows
// of a live run are its own; rows found by the next lock holder were left by a run that died).
// SQLite has one writer at a time: while the catalog's own connection has a transaction open
// (a WriteBatch between commits) no other connection can commit, so record() and forget()
// then throw std::logic_error at once instead of waiting: commit the batch before locking.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/sqlite.hpp"
#include "reflinkdedup/catalog/types.hpp"

namespace rdd::catalog {

struct FreezeRow {
    std::string filesystem;        // fs UUID (or another key of the filesystem)
    FileIdentity identity;         // (subvol, ino, generation)
    std::uint32_t original_flags = 0;
    std::string path;              // absolute
    std::int64_t pid = 0;          // the process that froze it (diagnostics)
    std::int64_t since = 0;        // unix seconds of the record (diagnostics)

    // Rows are keyed by (filesystem, identity).
    [[nodiscard]] bool same_file(const FreezeRow& o) const noexcept {
        return filesystem == o.filesystem && identity == o.identity;
    }
};

// Pending rows, read through any connection (reader or writer), in key order.
[[nodiscard]] std::vector<FreezeRow> pending_freezes(const Catalog& cat);

class FreezeJournalRows {
public:
    // std::logic_error unless `writer` holds the writer lock. Must not outlive it.
    explicit FreezeJournalRows(const Catalog& writer);

    // Inserts or replaces (same key) the rows in one transaction; durable on return.
    void record(std::span<const FreezeRow> rows);
    // Deletes the rows with these keys in one transaction. Not fsynced: a forget lost in a
    // power cut only makes the next run check a file whose flags are already right.
    void forget(std::span<const FreezeRow> rows);
    [[nodiscard]] std::vector<FreezeRow> pending() const;

    // For tests: the journal's own connection.
    [[nodiscard]] const Connection& connection() const noexcept { return conn_; }

private:
    void require_catalog_idle(std::string_view operation) const;

    const Catalog& catalog_;
    Connection conn_;
};

}  // namespace rdd::catalog
