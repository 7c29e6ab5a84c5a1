#include "reflinkdedup/catalog/write_batch.hpp"

#include <sqlite3.h>

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "file_rows.hpp"
#include "reflinkdedup/catalog/errors.hpp"

namespace rdd::catalog {

namespace {
std::string multi_row_insert(std::size_t rows) {
    std::string sql = "INSERT INTO block(file_id, blk, digest, phys) VALUES ";
    for (std::size_t i = 0; i < rows; ++i) sql += i == 0 ? "(?,?,?,?)" : ",(?,?,?,?)";
    return sql;
}
}  // namespace

WriteBatch::WriteBatch(Catalog& catalog, Epoch epoch, std::size_t rows_per_commit)
    : catalog_(catalog),
      conn_(catalog.connection()),
      epoch_(epoch),
      rows_per_commit_(rows_per_commit == 0 ? 1 : rows_per_commit),
      upsert_file_(conn_,
                   "INSERT INTO file(subvol, ino, gen, volume_id, size, mtime_ns, ctime_ns, state, seen_epoch,"
                   " hashed_epoch, digest, path) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8, NULL, ?9)"
                   " ON CONFLICT(subvol, ino, gen) DO UPDATE SET volume_id = excluded.volume_id,"
                   " size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns,"
                   " state = 0, seen_epoch = excluded.seen_epoch, hashed_epoch = excluded.hashed_epoch,"
                   " digest = NULL, path = excluded.path"
                   " RETURNING id"),
      other_generations_(conn_, "SELECT id FROM file WHERE subvol = ?1 AND ino = ?2 AND gen <> ?3"),
      delete_blocks_(conn_, "DELETE FROM block WHERE file_id = ?1"),
      delete_zero_runs_(conn_, "DELETE FROM zero_run WHERE file_id = ?1"),
      insert_block_(conn_, multi_row_insert(1)),
      insert_blocks_(conn_, multi_row_insert(kRowsPerInsert)),
      insert_zero_run_(conn_, "INSERT INTO zero_run(file_id, first_blk, blocks) VALUES (?1, ?2, ?3)"),
      insert_extent_(conn_, "INSERT OR REPLACE INTO extent(phys, file_id, first_blk, blocks) VALUES (?1, ?2, ?3, ?4)"),
      close_(conn_, "UPDATE file SET state = ?2, digest = ?3 WHERE id = ?1"),
      touch_(conn_, "UPDATE file SET seen_epoch = ?2, volume_id = ?3, path = ?4,"
                   " ctime_ns = coalesce(?5, ctime_ns) WHERE id = ?1"),
      set_state_(conn_, "UPDATE file SET state = ?2 WHERE id = ?1") {
    catalog_.require_writer("write batch");
}

WriteBatch::~WriteBatch() {
    if (in_transaction_) sqlite3_exec(conn_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void WriteBatch::ensure_transaction() {
    if (in_transaction_) return;
    conn_.exec("BEGIN IMMEDIATE");
    in_transaction_ = true;
}

void WriteBatch::maybe_commit() {
    if (rows_ >= rows_per_commit_) commit();
}

void WriteBatch::commit() {
    for (auto& [file, f] : open_) flush_blocks(file, f);
    if (in_transaction_) {
        conn_.exec("COMMIT");
        in_transaction_ = false;
        stale_committed_ += stale_uncommitted_;
        stale_uncommitted_ = 0;
    }
    rows_ = 0;
}

WriteBatch::OpenFile& WriteBatch::open_file(FileId file, std::string_view operation) {
    const auto it = open_.find(file);
    if (it == open_.end()) throw std::logic_error(std::string(operation) + ": file " + std::to_string(file) + " is not open");
    return it->second;
}

void WriteBatch::drop_blocks(FileId file) {
    for (Statement* st : {&delete_blocks_, &delete_zero_runs_}) {
        st->bind(1, file);
        st->run();
    }
}

FileId WriteBatch::begin_file(const FileRecord& record) {
    ensure_transaction();
    const FileIdentity& id = record.identity;

    // The inode number was reused: the older generation's file is gone.
    other_generations_.bind_u64(1, id.subvol).bind_u64(2, id.ino).bind_u64(3, id.generation);
    std::vector<FileId> stale;
    while (other_generations_.step()) stale.push_back(other_generations_.column_int(0));
    other_generations_.reset();
    if (!stale.empty()) {
        detail::FileDeleter deleter(conn_);
        for (const FileId f : stale) {
            if (open_.count(f) != 0) throw std::logic_error("begin_file: an older generation of this inode is open");
            deleter.erase(f);
        }
        stale_uncommitted_ += stale.size();
    }

    upsert_file_.bind_u64(1, id.subvol).bind_u64(2, id.ino).bind_u64(3, id.generation);
    upsert_file_.bind(4, record.volume).bind_u64(5, record.size).bind(6, record.mtime_ns).bind(7, record.ctime_ns);
    upsert_file_.bind(8, epoch_).bind(9, record.path);
    if (!upsert_file_.step()) throw CatalogError(conn_.path(), "upsert file: no id returned");
    const FileId file = upsert_file_.column_int(0);
    upsert_file_.reset();
    if (open_.count(file) != 0) throw std::logic_error("begin_file: file " + std::to_string(file) + " is already open");

    drop_blocks(file);
    OpenFile f;
    f.final_state = record.state;
    f.content_digest = record.content_digest;
    f.pending.reserve(kRowsPerInsert);
    open_.emplace(file, std::move(f));
    ++rows_;
    maybe_commit();
    return file;
}

void WriteBatch::flush_zero_run(FileId file, OpenFile& f) {
    if (f.zero_count == 0) return;
    insert_zero_run_.bind(1, file).bind_u64(2, f.zero_first).bind_u64(3, f.zero_count);
    insert_zero_run_.run();
    f.zero_count = 0;
    ++rows_;
}

void WriteBatch::check_order(const OpenFile& f, std::uint64_t index) {
    if (f.any_block && index < f.next_index) {
        throw std::invalid_argument("block index " + std::to_string(index) + " out of order (expected >= " +
                                    std::to_string(f.next_index) + ")");
    }
}

void WriteBatch::append_zeros(FileId file, OpenFile& f, std::uint64_t first, std::uint64_t count) {
    flush_run(file, f);  // a zero block ends any run of blocks contiguous on disk
    if (f.zero_count != 0 && f.zero_first + f.zero_count == first) {
        f.zero_count += count;
        return;
    }
    flush_zero_run(file, f);
    f.zero_first = first;
    f.zero_count = count;
}

void WriteBatch::add_blocks(FileId file, std::span<const Block> blocks) {
    OpenFile& f = open_file(file, "add_blocks");
    ensure_transaction();
    for (const Block& b : blocks) {
        check_order(f, b.index);
        f.any_block = true;
        f.next_index = b.index + 1;
        if (b.zero) {
            append_zeros(file, f, b.index, 1);
            continue;
        }
        extend_run(file, f, b);
        flush_zero_run(file, f);
        f.pending.push_back(b);
        if (f.pending.size() == kRowsPerInsert) flush_blocks(file, f);
        ++rows_;
    }
    maybe_commit();
}

void WriteBatch::add_zero_blocks(FileId file, std::uint64_t first, std::uint64_t count) {
    OpenFile& f = open_file(file, "add_zero_blocks");
    if (count == 0) return;
    ensure_transaction();
    check_order(f, first);
    f.any_block = true;
    f.next_index = first + count;
    append_zeros(file, f, first, count);
    maybe_commit();
}

void WriteBatch::extend_run(FileId file, OpenFile& f, const Block& b) {
    const std::uint64_t bs = catalog_.block_size();
    if (f.run_count != 0 && !b.zero && b.physical != 0 && b.index == f.run_first + f.run_count &&
        b.physical == f.run_phys + f.run_count * bs) {
        ++f.run_count;
        return;
    }
    flush_run(file, f);
    if (!b.zero && b.physical != 0) {
        f.run_phys = b.physical;
        f.run_first = b.index;
        f.run_count = 1;
    }
}

void WriteBatch::flush_run(FileId file, OpenFile& f) {
    if (f.run_count == 0) return;
    insert_extent_.bind_u64(1, f.run_phys).bind(2, file).bind_u64(3, f.run_first).bind_u64(4, f.run_count);
    insert_extent_.run();
    f.run_count = 0;
    // Not counted in rows_: at most one per run of blocks, it never decides a commit.
}

void WriteBatch::insert_blocks(Statement& st, FileId file, std::span<const Block> blocks) {
    std::array<std::array<unsigned char, 16>, kRowsPerInsert> digests{};
    int param = 1;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        const Block& b = blocks[i];
        st.bind(param, file).bind_u64(param + 1, b.index);
        detail::bind_digest(st, param + 2, b.digest, digests[i]);
        // Unknown physical addresses cost no bytes.
        if (b.physical != 0) st.bind_u64(param + 3, b.physical); else st.bind_null(param + 3);
        param += 4;
    }
    st.run();
}

void WriteBatch::flush_blocks(FileId file, OpenFile& f) {
    if (f.pending.size() == kRowsPerInsert) {
        insert_blocks(insert_blocks_, file, f.pending);
    } else {
        for (const Block& b : f.pending) insert_blocks(insert_block_, file, std::span(&b, 1));
    }
    f.pending.clear();
}

void WriteBatch::end_file(FileId file, const std::optional<Digest>& content_digest) {
    OpenFile& f = open_file(file, "end_file");
    ensure_transaction();
    flush_run(file, f);
    flush_zero_run(file, f);
    flush_blocks(file, f);
    const std::optional<Digest> digest = content_digest ? content_digest : f.content_digest;
    std::array<unsigned char, 16> bytes{};
    close_.bind(1, file).bind(2, static_cast<std::int64_t>(f.final_state));
    if (digest) detail::bind_digest(close_, 3, *digest, bytes); else close_.bind_null(3);
    close_.run();
    open_.erase(file);
    maybe_commit();
}

void WriteBatch::abort_file(FileId file, FileState state) {
    open_file(file, "abort_file").pending.clear();
    ensure_transaction();
    drop_blocks(file);
    close_.bind(1, file).bind(2, static_cast<std::int64_t>(state)).bind_null(3);
    close_.run();
    open_.erase(file);
    maybe_commit();
}

FileId WriteBatch::put_file(const FileRecord& record, std::span<const Block> blocks) {
    const FileId id = begin_file(record);
    add_blocks(id, blocks);
    end_file(id);
    return id;
}

void WriteBatch::touch_file(FileId file, VolumeId volume, std::string_view path,
                            std::optional<std::int64_t> ctime_ns) {
    ensure_transaction();
    touch_.bind(1, file).bind(2, epoch_).bind(3, volume).bind(4, path);
    if (ctime_ns) touch_.bind(5, *ctime_ns); else touch_.bind_null(5);
    touch_.run();
    ++rows_;
    maybe_commit();
}

void WriteBatch::set_state(FileId file, FileState state) {
    if (open_.count(file) != 0) throw std::logic_error("set_state on an open file (end_file or abort_file it)");
    ensure_transaction();
    set_state_.bind(1, file).bind(2, static_cast<std::int64_t>(state));
    set_state_.run();
    ++rows_;
    maybe_commit();
}

}  // namespace rdd::catalog
