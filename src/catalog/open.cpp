// Opening a catalog: private files, writer lock, pragmas, schema migration, settings check.
#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <thread>

#include "catalog_internal.hpp"
#include "private_files.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/catalog/open_hook.hpp"
#include "reflinkdedup/catalog/schema.hpp"

namespace rdd::catalog {

namespace {

using detail::meta_int;
using detail::meta_text;
using detail::set_meta;

void configure(const Connection& conn, std::int64_t cache_kib, bool writer) {
    // A reader may meet a checkpoint, a writer a reader's lock on the WAL index: wait, don't fail.
    sqlite3_busy_timeout(conn.handle(), 10'000);
    if (writer) {
        // The first statement that reads the file: garbage fails here, as CorruptCatalogError.
        const std::string mode = conn.query_text("PRAGMA journal_mode = WAL");
        if (mode != "wal") throw CatalogError(conn.path(), "cannot switch to WAL journal (got \"" + mode + "\")");
        conn.exec("PRAGMA synchronous = NORMAL");
        // Checkpoints (the only fsyncs with synchronous=NORMAL) every 16 MiB of WAL instead of
        // SQLite's 4 MiB: a checkpoint writes its pages in file order, so the pages scattered
        // by the inode-keyed identity index (one random insert per file) coalesce, and there
        // are 4x fewer fsyncs (at 64 MiB: 16.5 s -> 6.4 s of fsync per 10^8 rows, but then a
        // 10^6-row window may hold no checkpoint or a whole one: rates stop being comparable).
        conn.exec("PRAGMA wal_autocheckpoint = 4096");
        // A WAL that grew while a long reader held it back shrinks again at its next reset.
        conn.exec("PRAGMA journal_size_limit = 67108864");
    }
    conn.exec("PRAGMA cache_size = " + std::to_string(-std::max<std::int64_t>(cache_kib, 1024)));
    // Worker threads for SQLite's own sorter (ORDER BY of the whole-file groups).
    const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1U, 4U);
    conn.exec("PRAGMA threads = " + std::to_string(threads));
}

void check_algorithm(const Connection& conn) {
    const std::string algorithm = meta_text(conn, "digest_algorithm");
    if (algorithm != kDigestAlgorithm) {
        throw CatalogError(conn.path(), "catalog digests are \"" + algorithm + "\", this build writes \"" +
                                            std::string(kDigestAlgorithm) + "\"; reset the catalog");
    }
}

void validate_block_size(const std::string& path, std::uint32_t block_size) {
    if (block_size == 0 || block_size % 512 != 0) {
        throw CatalogError(path, "invalid block size " + std::to_string(block_size) + " (a multiple of 512 needed)");
    }
}

}  // namespace

Catalog::Catalog(WriterLock lock, Connection conn, std::uint32_t block_size) noexcept
    : lock_(std::move(lock)), conn_(std::move(conn)), block_size_(block_size) {}

Catalog Catalog::open_writer(const std::filesystem::path& path, const OpenOptions& options) {
    const std::string db = path.string();
    if (db.empty()) throw CatalogError(db, "empty catalog path");
    if (options.block_size != 0) validate_block_size(db, options.block_size);
    if (options.new_block_size != 0) validate_block_size(db, options.new_block_size);

    detail::ensure_private_dir(path.parent_path());
    // Taken before the file is touched: creation and migration happen under it.
    WriterLock lock = WriterLock::acquire(WriterLock::lock_path_for(db), options.lock_timeout);
    if (options.block_size == 0 && options.new_block_size == 0 && !std::filesystem::exists(path)) {
        throw CatalogError(db, "no catalog here, and creating one needs a block size");
    }
    detail::ensure_private_file(db);
    detail::tighten_if_exists(db + "-wal");
    detail::tighten_if_exists(db + "-shm");

    Connection conn(db, Connection::Mode::read_write);
    configure(conn, options.cache_kib, /*writer=*/true);
    migrate(conn, migration_steps());
    check_algorithm(conn);

    const auto stored = meta_int(conn, "block_size");
    std::uint32_t block_size = options.block_size;
    if (!stored) {
        if (block_size == 0) block_size = options.new_block_size;
        if (block_size == 0) throw CatalogError(db, "catalog has no block size and none was given");
        set_meta(conn, "block_size", block_size);
    } else if (block_size == 0 || static_cast<std::uint32_t>(*stored) == block_size) {
        block_size = static_cast<std::uint32_t>(*stored);
    } else if (options.reset_on_block_size_change) {
        {
            Transaction tx(conn);
            clear_data(conn);
            set_meta(conn, "block_size", block_size);
            tx.commit();
        }
        detail::vacuum(conn);
    } else {
        throw BlockSizeMismatchError(db, static_cast<std::uint32_t>(*stored), block_size);
    }
    detail::drop_pending_blocks(conn);
    Catalog cat(std::move(lock), std::move(conn), block_size);
    detail::run_writer_open_hook(cat);  // e.g. repairs freezes left by a run that died
    return cat;
}

Catalog Catalog::open_reader(const std::filesystem::path& path, std::int64_t cache_kib) {
    const std::string db = path.string();
    if (!std::filesystem::exists(path)) throw CatalogError(db, "no catalog at this path");
    Connection conn(db, Connection::Mode::read_only);
    configure(conn, cache_kib, /*writer=*/false);
    require_version(conn, migration_steps());
    check_algorithm(conn);
    const auto stored = meta_int(conn, "block_size");
    if (!stored) throw CatalogError(db, "catalog has no block size (never completed its creation)");
    return Catalog(WriterLock{}, std::move(conn), static_cast<std::uint32_t>(*stored));
}

}  // namespace rdd::catalog
