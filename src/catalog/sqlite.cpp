#include "reflinkdedup/catalog/sqlite.hpp"

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::catalog {

namespace {

// `db` (may be null) supplies the errno behind an I/O error: SQLite's own text says "disk I/O
// error" or "unable to open database file" whether the disk is full, read-only or failing.
[[noreturn]] void throw_for(int rc, const std::string& path, std::string_view operation, const char* text,
                            sqlite3* db) {
    std::string message = std::string(operation) + ": " + (text ? text : sqlite3_errstr(rc));
    const int primary = rc & 0xff;
    const int err = db != nullptr ? sqlite3_system_errno(db) : 0;
    if (err != 0 && (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL)) {
        message += " (" + errno_text(err) + ")";
    }
    if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) {
        throw CorruptCatalogError(path, message + " (the catalog is damaged or not a catalog)", rc);
    }
    throw CatalogError(path, message, rc);
}

// A WAL database needs its -shm file even to be read, and on a read-only filesystem where it
// does not exist (a clean close removes it) SQLite cannot create it: every statement failed
// with "unable to open database file". Nothing writes the file through a read-only mount and,
// with no -wal, every committed page is in the main file: it is read as immutable instead.
bool read_only_fs_without_wal(const std::string& path) {
    struct statvfs vfs {};
    if (::statvfs(path.c_str(), &vfs) != 0 || (vfs.f_flag & ST_RDONLY) == 0) return false;
    struct stat st {};
    return ::stat((path + "-wal").c_str(), &st) != 0 && ::stat((path + "-shm").c_str(), &st) != 0;
}

std::string immutable_uri(const std::string& path) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string uri = path.starts_with('/') ? "file://" : "file:";
    for (const char c : path) {
        if (c == '%' || c == '?' || c == '#') {
            const auto b = static_cast<unsigned char>(c);
            uri += {'%', kHex[b >> 4], kHex[b & 15]};
        } else {
            uri += c;
        }
    }
    return uri + "?immutable=1";
}

}  // namespace

// --- Connection --------------------------------------------------------------------------

struct ConnectionState {
    sqlite3* db = nullptr;
    std::string path;
    struct Cached {
        Statement statement;
        bool in_use = false;
    };
    std::unordered_map<std::string, std::unique_ptr<Cached>> cache;

    ~ConnectionState() {
        cache.clear();  // statements first
        // close_v2 defers the close if a statement is still alive instead of failing.
        sqlite3_close_v2(db);
    }

    [[noreturn]] void fail(int rc, std::string_view operation) const {
        throw_for(rc, path, operation, db ? sqlite3_errmsg(db) : nullptr, db);
    }
};

Connection::Connection() noexcept = default;

Connection::Connection(const std::string& path, Mode mode) : state_(std::make_unique<ConnectionState>()) {
    state_->path = path;
    int flags = (mode == Mode::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    const bool immutable = mode == Mode::read_only && read_only_fs_without_wal(path);
    if (immutable) flags |= SQLITE_OPEN_URI;
    const int rc = sqlite3_open_v2(immutable ? immutable_uri(path).c_str() : path.c_str(), &state_->db, flags, nullptr);
    if (rc != SQLITE_OK) {
        // A handle is returned even on failure (except out of memory); it carries the text.
        const std::string text = state_->db ? sqlite3_errmsg(state_->db) : sqlite3_errstr(rc);
        throw_for(rc, path, "open", text.c_str(), state_->db);
    }
    sqlite3_extended_result_codes(state_->db, 1);
}

Connection::Connection(Connection&& other) noexcept = default;
Connection& Connection::operator=(Connection&& other) noexcept = default;
Connection::~Connection() = default;

sqlite3* Connection::handle() const noexcept { return state_ ? state_->db : nullptr; }

const std::string& Connection::path() const noexcept {
    static const std::string none;
    return state_ ? state_->path : none;
}

void Connection::exec(std::string_view sql) const {
    char* error = nullptr;
    const std::string text(sql);
    const int rc = sqlite3_exec(handle(), text.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        const std::string message = error ? error : sqlite3_errstr(rc);
        sqlite3_free(error);
        throw_for(rc, path(), text, message.c_str(), handle());
    }
}

Statement Connection::prepare(std::string_view sql) const { return Statement(*this, sql); }

CachedStatement Connection::cached(std::string_view sql) const {
    auto& slot = state_->cache[std::string(sql)];
    if (!slot) slot = std::make_unique<ConnectionState::Cached>(ConnectionState::Cached{Statement(*this, sql), false});
    if (slot->in_use) return CachedStatement(Statement(*this, sql));
    slot->in_use = true;
    return CachedStatement(&slot->statement, &slot->in_use);
}

std::int64_t Connection::query_int(std::string_view sql, std::int64_t fallback) const {
    Statement st(*this, sql);
    return st.step() ? st.column_int(0) : fallback;
}

std::string Connection::query_text(std::string_view sql) const {
    Statement st(*this, sql);
    return st.step() ? std::string(st.column_text(0)) : std::string();
}

std::int64_t Connection::changes() const noexcept { return sqlite3_changes64(handle()); }

void Connection::fail(int rc, std::string_view operation) const {
    throw_for(rc, path(), operation, handle() ? sqlite3_errmsg(handle()) : nullptr, handle());
}

CachedStatement::~CachedStatement() {
    if (statement_) {
        statement_->reset();
        *in_use_ = false;
    }
}

// --- Statement ---------------------------------------------------------------------------

Statement::Statement(const Connection& conn, std::string_view sql) : conn_(nullptr) {
    const int rc = sqlite3_prepare_v3(conn.handle(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) conn.fail(rc, "prepare \"" + std::string(sql) + "\"");
    conn_ = conn.state_.get();
}

Statement::Statement(Statement&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
    if (this != &other) {
        sqlite3_finalize(stmt_);
        conn_ = std::exchange(other.conn_, nullptr);
        stmt_ = std::exchange(other.stmt_, nullptr);
    }
    return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, std::int64_t value) {
    const int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK) conn_->fail(rc, "bind");
    return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
    const int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) conn_->fail(rc, "bind");
    return *this;
}

Statement& Statement::bind_blob(int index, std::span<const unsigned char> bytes) {
    const int rc = sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC);
    if (rc != SQLITE_OK) conn_->fail(rc, "bind");
    return *this;
}

Statement& Statement::bind_null(int index) {
    const int rc = sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK) conn_->fail(rc, "bind");
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    // Keep the statement reusable after the error; the message is taken first.
    const std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
    const std::string text = sqlite3_errmsg(conn_->db);
    sqlite3_reset(stmt_);
    throw_for(rc, conn_->path, sql, text.c_str(), conn_->db);
}

void Statement::run() {
    while (step()) {
    }
    reset();
}

void Statement::reset() noexcept {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::column_int(int col) const noexcept { return sqlite3_column_int64(stmt_, col); }

bool Statement::column_is_null(int col) const noexcept { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

std::string_view Statement::column_text(int col) const noexcept {
    const auto* text = sqlite3_column_text(stmt_, col);
    const int size = sqlite3_column_bytes(stmt_, col);
    if (!text) return {};
    return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
}

std::span<const unsigned char> Statement::column_blob(int col) const noexcept {
    const auto* data = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, col));
    const int size = sqlite3_column_bytes(stmt_, col);
    if (!data) return {};
    return {data, static_cast<std::size_t>(size)};
}

// --- Transaction -------------------------------------------------------------------------

Transaction::Transaction(const Connection& conn)
    : conn_(conn), nested_(sqlite3_get_autocommit(conn.handle()) == 0) {
    // Inside an open transaction (a WriteBatch) a savepoint nests where BEGIN would fail.
    conn_.exec(nested_ ? "SAVEPOINT rdd_tx" : "BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
    if (!open_) return;
    const char* sql = nested_ ? "ROLLBACK TO rdd_tx; RELEASE rdd_tx" : "ROLLBACK";
    sqlite3_exec(conn_.handle(), sql, nullptr, nullptr, nullptr);
}

void Transaction::commit() {
    conn_.exec(nested_ ? "RELEASE rdd_tx" : "COMMIT");
    open_ = false;
}

}  // namespace rdd::catalog
