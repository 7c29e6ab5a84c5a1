#pragma once
// Schema version and forward migrations. The version lives in PRAGMA user_version; a catalog
// of a newer version is refused (SchemaTooNewError), never rebuilt.
#include <cstdint>
#include <span>
#include <string_view>

namespace rdd::catalog {

class Connection;

// "RDDC": marks the file as a reflinkdedup catalog (PRAGMA application_id).
inline constexpr std::int32_t kApplicationId = 0x52444443;

struct MigrationStep {
    int to_version;                 // step i (0-based) must lead to version i + 1
    std::string_view description;
    void (*apply)(const Connection&);  // runs inside the step's transaction
};

// The steps of this build; the last one's to_version is the version this build writes.
[[nodiscard]] std::span<const MigrationStep> migration_steps() noexcept;
[[nodiscard]] int current_schema_version() noexcept;

[[nodiscard]] int schema_version(const Connection& conn);

// Applies the steps the catalog lacks, each in its own transaction (a failed step leaves the
// previous version). An empty file is version 0. Returns the version reached.
// Throws SchemaTooNewError if the catalog is newer than the last step, CatalogError if the file
// is some other SQLite database.
int migrate(const Connection& conn, std::span<const MigrationStep> steps);

// For read-only use: throws unless the catalog is exactly at the steps' last version.
void require_version(const Connection& conn, std::span<const MigrationStep> steps);

// Deletes every file, block, zero run, volume and retry-list row (the data tables of any
// version); the freeze journal stays (it describes flags on disk, not catalog data).
void clear_data(const Connection& conn);

}  // namespace rdd::catalog
