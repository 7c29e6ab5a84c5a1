#include "reflinkdedup/catalog/errors.hpp"

#include <utility>

namespace rdd::catalog {

namespace {
std::string with_path(const std::string& path, const std::string& message) {
    return path.empty() ? message : path + ": " + message;
}
}  // namespace

CatalogError::CatalogError(std::string path, const std::string& message, int sqlite_code)
    : std::runtime_error(with_path(path, message)), path_(std::move(path)), sqlite_code_(sqlite_code) {}

SchemaTooNewError::SchemaTooNewError(std::string path, int found_version, int supported_version)
    : CatalogError(std::move(path),
                   "catalog schema version " + std::to_string(found_version) +
                       " was written by a newer reflinkdedup (this one supports up to " +
                       std::to_string(supported_version) + "); upgrade reflinkdedup or use another catalog"),
      found_(found_version),
      supported_(supported_version) {}

BlockSizeMismatchError::BlockSizeMismatchError(std::string path, std::uint32_t stored, std::uint32_t requested)
    : CatalogError(std::move(path),
                   "catalog block size is " + std::to_string(stored) + " bytes, " + std::to_string(requested) +
                       " requested; reset the catalog to change it"),
      stored_(stored),
      requested_(requested) {}

WriterLockTimeoutError::WriterLockTimeoutError(std::string lock_path, long long waited_ms)
    : CatalogError(std::move(lock_path),
                   "another reflinkdedup process is writing this catalog (writer lock not acquired within " +
                       std::to_string(waited_ms) + " ms)") {}

}  // namespace rdd::catalog
