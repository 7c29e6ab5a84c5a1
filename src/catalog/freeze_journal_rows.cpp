#include "reflinkdedup/catalog/freeze_journal_rows.hpp"

#include <sqlite3.h>

#include <stdexcept>
#include <string>

namespace rdd::catalog {

namespace {

constexpr std::string_view kSelect =
    "SELECT fs, subvol, ino, gen, flags, path, pid, since FROM freeze_journal ORDER BY fs, subvol, ino, gen";

std::vector<FreezeRow> read_rows(const Connection& conn) {
    std::vector<FreezeRow> out;
    Statement st(conn, kSelect);
    while (st.step()) {
        FreezeRow r;
        r.filesystem = std::string(st.column_text(0));
        r.identity = {st.column_u64(1), st.column_u64(2), st.column_u64(3)};
        r.original_flags = static_cast<std::uint32_t>(st.column_u64(4));
        r.path = std::string(st.column_text(5));
        r.pid = st.column_int(6);
        r.since = st.column_int(7);
        out.push_back(std::move(r));
    }
    return out;
}

Statement& bind_key(Statement& st, const FreezeRow& r) {
    return st.bind(1, r.filesystem).bind_u64(2, r.identity.subvol).bind_u64(3, r.identity.ino).bind_u64(4, r.identity.generation);
}

// synchronous=NORMAL for one transaction, FULL again afterwards whatever happens.
class [[nodiscard]] LazyCommit {
public:
    explicit LazyCommit(const Connection& conn) : conn_(conn) { conn_.exec("PRAGMA synchronous = NORMAL"); }
    ~LazyCommit() {
        try {
            conn_.exec("PRAGMA synchronous = FULL");
        } catch (...) {
        }
    }
    LazyCommit(const LazyCommit&) = delete;
    LazyCommit& operator=(const LazyCommit&) = delete;

private:
    const Connection& conn_;
};

}  // namespace

std::vector<FreezeRow> pending_freezes(const Catalog& cat) { return read_rows(cat.connection()); }

FreezeJournalRows::FreezeJournalRows(const Catalog& writer) : catalog_(writer) {
    if (!writer.writable()) throw std::logic_error("freeze journal: the catalog must be open for writing");
    conn_ = Connection(writer.path(), Connection::Mode::read_write);
    sqlite3_busy_timeout(conn_.handle(), 10'000);
    // The file is in WAL mode already (a persistent property the writer set); FULL makes every
    // commit of this connection fsync the WAL before it returns.
    conn_.exec("PRAGMA synchronous = FULL");
}

void FreezeJournalRows::require_catalog_idle(std::string_view operation) const {
    if (sqlite3_get_autocommit(catalog_.connection().handle()) == 0) {
        throw std::logic_error("freeze journal " + std::string(operation) +
                               ": the catalog's connection has a transaction open (commit the batch first)");
    }
}

void FreezeJournalRows::record(std::span<const FreezeRow> rows) {
    if (rows.empty()) return;
    require_catalog_idle("record");
    Transaction tx(conn_);
    Statement st(conn_,
                 "INSERT OR REPLACE INTO freeze_journal(fs, subvol, ino, gen, flags, path, pid, since) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    for (const FreezeRow& r : rows) {
        bind_key(st, r).bind(5, std::int64_t{r.original_flags}).bind(6, r.path).bind(7, r.pid).bind(8, r.since);
        st.run();
    }
    tx.commit();
}

void FreezeJournalRows::forget(std::span<const FreezeRow> rows) {
    if (rows.empty()) return;
    require_catalog_idle("forget");
    const LazyCommit lazy(conn_);
    Transaction tx(conn_);
    Statement st(conn_, "DELETE FROM freeze_journal WHERE fs = ?1 AND subvol = ?2 AND ino = ?3 AND gen = ?4");
    for (const FreezeRow& r : rows) {
        bind_key(st, r).run();
    }
    tx.commit();
}

std::vector<FreezeRow> FreezeJournalRows::pending() const { return read_rows(conn_); }

}  // namespace rdd::catalog
