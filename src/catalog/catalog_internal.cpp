#include "catalog_internal.hpp"

#include <string>

#include "reflinkdedup/catalog/errors.hpp"

namespace rdd::catalog::detail {

std::optional<std::int64_t> meta_int(const Connection& conn, std::string_view key) {
    auto st = conn.cached("SELECT value FROM meta WHERE key = ?1");
    st->bind(1, key);
    if (!st->step() || st->column_is_null(0)) return std::nullopt;
    return st->column_int(0);
}

std::string meta_text(const Connection& conn, std::string_view key) {
    auto st = conn.cached("SELECT value FROM meta WHERE key = ?1");
    st->bind(1, key);
    return st->step() ? std::string(st->column_text(0)) : std::string();
}

void set_meta(const Connection& conn, std::string_view key, std::int64_t value) {
    auto st = conn.cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)");
    st->bind(1, key).bind(2, value);
    st->run();
}

void drop_pending_blocks(const Connection& conn) {
    Transaction tx(conn);
    conn.exec(
        "DELETE FROM block WHERE file_id IN (SELECT id FROM file WHERE state = 0);"
        "DELETE FROM zero_run WHERE file_id IN (SELECT id FROM file WHERE state = 0);");
    tx.commit();
}

const Connection& writer_connection(Catalog& cat, std::string_view operation) {
    if (!cat.writable()) throw CatalogError(cat.path(), std::string(operation) + ": catalog opened read-only");
    return cat.connection();
}

void vacuum(const Connection& conn) {
    conn.exec("VACUUM");
    conn.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

}  // namespace rdd::catalog::detail
