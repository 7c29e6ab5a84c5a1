#pragma once
// Catalog errors. Every message names the catalog file and carries SQLite's own text, so a user
// can tell "locked by another run" from "written by a newer version" from "not a database".
#include <cstdint>
#include <stdexcept>
#include <string>

namespace rdd::catalog {

class CatalogError : public std::runtime_error {
public:
    // sqlite_code is the SQLite (extended) result code, 0 when the error is not SQLite's.
    CatalogError(std::string path, const std::string& message, int sqlite_code = 0);

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] int sqlite_code() const noexcept { return sqlite_code_; }

private:
    std::string path_;
    int sqlite_code_;
};

// The file is not an SQLite database, or SQLite found it damaged.
class CorruptCatalogError : public CatalogError {
public:
    using CatalogError::CatalogError;
};

// Written by a newer reflinkdedup: never touched, never rebuilt.
class SchemaTooNewError : public CatalogError {
public:
    SchemaTooNewError(std::string path, int found_version, int supported_version);
    [[nodiscard]] int found_version() const noexcept { return found_; }
    [[nodiscard]] int supported_version() const noexcept { return supported_; }

private:
    int found_;
    int supported_;
};

// The catalog was built with another block size; digests of different block sizes never match.
class BlockSizeMismatchError : public CatalogError {
public:
    BlockSizeMismatchError(std::string path, std::uint32_t stored, std::uint32_t requested);
    [[nodiscard]] std::uint32_t stored() const noexcept { return stored_; }
    [[nodiscard]] std::uint32_t requested() const noexcept { return requested_; }

private:
    std::uint32_t stored_;
    std::uint32_t requested_;
};

// Another process holds the writer lock and did not release it within the timeout.
class WriterLockTimeoutError : public CatalogError {
public:
    WriterLockTimeoutError(std::string lock_path, long long waited_ms);
};

}  // namespace rdd::catalog
