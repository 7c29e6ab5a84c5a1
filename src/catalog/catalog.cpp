// The writer's bookkeeping: volumes, passes, deletions, reset; stats and integrity.
#include "reflinkdedup/catalog/catalog.hpp"

#include <limits>
#include <string>
#include <vector>

#include "catalog_internal.hpp"
#include "file_rows.hpp"
#include "private_files.hpp"
#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/catalog/schema.hpp"

namespace rdd::catalog {

void Catalog::require_writer(std::string_view operation) const {
    if (!writable()) throw CatalogError(path(), std::string(operation) + ": catalog opened read-only");
}

VolumeId Catalog::add_volume(std::uint64_t subvol_id, std::string_view volume_path) {
    require_writer("add volume");
    Transaction tx(conn_);
    Statement find(conn_, subvol_id != 0 ? "SELECT id FROM volume WHERE subvol_id = ?1"
                                         : "SELECT id FROM volume WHERE subvol_id = 0 AND path = ?2");
    if (subvol_id != 0) find.bind_u64(1, subvol_id); else find.bind(2, volume_path);
    VolumeId id = 0;
    if (find.step()) {
        id = find.column_int(0);
        find.reset();
        Statement rename(conn_, "UPDATE volume SET path = ?2 WHERE id = ?1 AND path <> ?2");
        rename.bind(1, id).bind(2, volume_path);
        rename.run();
    } else {
        find.reset();
        Statement insert(conn_, "INSERT INTO volume(subvol_id, path) VALUES (?1, ?2) RETURNING id");
        insert.bind_u64(1, subvol_id).bind(2, volume_path);
        if (!insert.step()) throw CatalogError(path(), "add volume: no id returned");
        id = insert.column_int(0);
        insert.reset();
    }
    tx.commit();
    return id;
}

Epoch Catalog::begin_pass(VolumeId volume_id) {
    require_writer("begin pass");
    Transaction tx(conn_);
    conn_.exec("UPDATE meta SET value = value + 1 WHERE key = 'epoch'");
    const Epoch epoch = detail::meta_int(conn_, "epoch").value_or(0);
    Statement st(conn_, "UPDATE volume SET scan_state = ?2, last_epoch = ?3 WHERE id = ?1");
    st.bind(1, volume_id).bind(2, static_cast<std::int64_t>(ScanState::scanning)).bind(3, epoch);
    st.run();
    if (conn_.changes() != 1) throw CatalogError(path(), "begin pass: no volume " + std::to_string(volume_id));
    tx.commit();
    return epoch;
}

void Catalog::finish_pass(VolumeId volume_id, std::uint64_t generation, ScanState state) {
    require_writer("finish pass");
    // Only a complete scan may advance the generation: an interrupted one would skip changes.
    Statement st(conn_, state == ScanState::complete
                            ? "UPDATE volume SET scan_state = ?2, last_generation = ?3 WHERE id = ?1"
                            : "UPDATE volume SET scan_state = ?2 WHERE id = ?1");
    st.bind(1, volume_id).bind(2, static_cast<std::int64_t>(state));
    if (state == ScanState::complete) st.bind_u64(3, generation);
    st.run();
}

std::uint64_t Catalog::delete_unseen(VolumeId volume_id, Epoch pass) {
    require_writer("delete unseen files");
    detail::FileDeleter deleter(conn_);
    Statement next(conn_,
                   "SELECT id FROM file WHERE id > ?1 AND volume_id = ?2 AND seen_epoch < ?3 ORDER BY id LIMIT 1000");
    std::uint64_t deleted = 0;
    FileId after = 0;
    // Chunked transactions keep the WAL small when a whole snapshot's files go at once.
    for (;;) {
        std::vector<FileId> chunk;
        next.bind(1, after).bind(2, volume_id).bind(3, pass);
        while (next.step()) chunk.push_back(next.column_int(0));
        next.reset();
        if (chunk.empty()) break;
        Transaction tx(conn_);
        for (const FileId id : chunk) deleter.erase(id);
        tx.commit();
        deleted += chunk.size();
        after = chunk.back();
    }
    return deleted;
}

std::uint64_t Catalog::forget_volume(VolumeId volume_id) {
    require_writer("forget volume");
    // Every file of the volume is "unseen" before an epoch past all of them.
    const std::uint64_t deleted = delete_unseen(volume_id, std::numeric_limits<Epoch>::max());
    Statement st(conn_, "DELETE FROM volume WHERE id = ?1");
    st.bind(1, volume_id);
    st.run();
    Statement settings(conn_, "DELETE FROM meta WHERE key = ?1");
    const std::string key = "scan_settings/" + std::to_string(volume_id);
    settings.bind(1, key);
    settings.run();
    return deleted;
}

bool Catalog::delete_file(FileId file_id) {
    require_writer("delete file");
    Transaction tx(conn_);
    detail::FileDeleter deleter(conn_);
    const bool existed = this->file(file_id).has_value();
    deleter.erase(file_id);
    tx.commit();
    return existed;
}

std::uint64_t Catalog::delete_files(std::span<const FileId> files) {
    require_writer("delete files");
    Transaction tx(conn_);
    detail::FileDeleter deleter(conn_);
    std::uint64_t deleted = 0;
    for (const FileId id : files) {
        if (this->file(id)) ++deleted;
        deleter.erase(id);
    }
    tx.commit();
    return deleted;
}

void Catalog::reset() {
    require_writer("reset");
    {
        Transaction tx(conn_);
        clear_data(conn_);
        tx.commit();
    }
    detail::vacuum(conn_);
}

void Catalog::checkpoint() {
    require_writer("checkpoint");
    conn_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

CatalogStats Catalog::stats() const {
    CatalogStats s;
    s.volumes = conn_.query_int("SELECT count(*) FROM volume");
    s.files = conn_.query_int("SELECT count(*) FROM file");
    s.hashed_files = conn_.query_int("SELECT count(*) FROM file WHERE state = 1");
    s.block_rows = conn_.query_int("SELECT count(*) FROM block");
    s.zero_blocks = conn_.query_int("SELECT coalesce(sum(blocks), 0) FROM zero_run");
    s.db_bytes = detail::file_size_or_zero(path());
    s.wal_bytes = detail::file_size_or_zero(path() + "-wal");
    return s;
}

void Catalog::check_integrity() const {
    Statement st(conn_, "PRAGMA quick_check(20)");
    std::string findings;
    while (st.step()) {
        const std::string_view line = st.column_text(0);
        if (line == "ok") continue;
        findings += findings.empty() ? "" : "; ";
        findings += line;
    }
    if (!findings.empty()) throw CorruptCatalogError(path(), "integrity check failed: " + findings);
}

}  // namespace rdd::catalog
