#pragma once
// Thin RAII wrappers over the SQLite C API: one connection, prepared statements, transactions.
// Every failure throws CatalogError (or CorruptCatalogError) with SQLite's text and the db path.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace rdd::catalog {

class Statement;
class CachedStatement;
struct ConnectionState;  // heap-allocated: statements keep pointing at it when a Connection moves

class Connection {
public:
    enum class Mode { read_only, read_write };

    Connection() noexcept;
    Connection(const std::string& path, Mode mode);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    Connection(Connection&& other) noexcept;
    Connection& operator=(Connection&& other) noexcept;
    ~Connection();

    // Runs one or more statements that return no rows we need.
    void exec(std::string_view sql) const;
    [[nodiscard]] Statement prepare(std::string_view sql) const;
    // A statement prepared once per connection, for lookups made once per file; it is reset
    // when the returned handle goes away. Not for statements a visitor could re-enter.
    [[nodiscard]] CachedStatement cached(std::string_view sql) const;
    // First column of the first row as an integer (PRAGMAs, counts); `fallback` when no row.
    [[nodiscard]] std::int64_t query_int(std::string_view sql, std::int64_t fallback = 0) const;
    [[nodiscard]] std::string query_text(std::string_view sql) const;

    [[nodiscard]] sqlite3* handle() const noexcept;
    [[nodiscard]] const std::string& path() const noexcept;
    [[nodiscard]] std::int64_t changes() const noexcept;

    // Throws the exception that matches `rc` (corrupt / other), text from the connection.
    [[noreturn]] void fail(int rc, std::string_view operation) const;

private:
    friend class Statement;
    std::unique_ptr<ConnectionState> state_;
};

class Statement {
public:
    Statement() noexcept = default;
    Statement(const Connection& conn, std::string_view sql);
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&& other) noexcept;
    ~Statement();

    // Parameters are 1-based as in SQLite. Unsigned 64-bit values are stored bit-for-bit as
    // SQLite's signed integers (inode numbers and generations may use the top bit).
    Statement& bind(int index, std::int64_t value);
    Statement& bind_u64(int index, std::uint64_t value) { return bind(index, static_cast<std::int64_t>(value)); }
    Statement& bind(int index, std::string_view text);
    // The bytes must stay valid until the next step()/reset().
    Statement& bind_blob(int index, std::span<const unsigned char> bytes);
    Statement& bind_null(int index);

    // true: a row is available; false: done. Throws on error.
    [[nodiscard]] bool step();
    // step() for statements that return no row.
    void run();
    // Ends the statement's read (or write) and clears the bindings.
    void reset() noexcept;

    [[nodiscard]] std::int64_t column_int(int col) const noexcept;
    [[nodiscard]] std::uint64_t column_u64(int col) const noexcept { return static_cast<std::uint64_t>(column_int(col)); }
    [[nodiscard]] bool column_is_null(int col) const noexcept;
    [[nodiscard]] std::string_view column_text(int col) const noexcept;
    [[nodiscard]] std::span<const unsigned char> column_blob(int col) const noexcept;

private:
    const ConnectionState* conn_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
};

// A lease on a connection's cached statement: resets it on destruction.
class [[nodiscard]] CachedStatement {
public:
    CachedStatement(Statement* statement, bool* in_use) noexcept : statement_(statement), in_use_(in_use) {}
    explicit CachedStatement(Statement owned) : owned_(std::make_unique<Statement>(std::move(owned))) {}
    CachedStatement(const CachedStatement&) = delete;
    CachedStatement& operator=(const CachedStatement&) = delete;
    ~CachedStatement();

    Statement& operator*() noexcept { return statement_ ? *statement_ : *owned_; }
    Statement* operator->() noexcept { return &**this; }

private:
    Statement* statement_ = nullptr;
    bool* in_use_ = nullptr;
    std::unique_ptr<Statement> owned_;  // when the cached one was already leased
};

// BEGIN IMMEDIATE ... COMMIT (a savepoint when a transaction is already open); rolled back by
// the destructor unless committed.
class [[nodiscard]] Transaction {
public:
    [[nodiscard]] explicit Transaction(const Connection& conn);
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();

    void commit();

private:
    const Connection& conn_;
    bool nested_;
    bool open_ = true;
};

}  // namespace rdd::catalog
