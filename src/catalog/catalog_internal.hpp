#pragma once
// Small helpers shared by the catalog's source files: the meta table and compaction.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/sqlite.hpp"

namespace rdd::catalog::detail {

[[nodiscard]] std::optional<std::int64_t> meta_int(const Connection& conn, std::string_view key);
[[nodiscard]] std::string meta_text(const Connection& conn, std::string_view key);
void set_meta(const Connection& conn, std::string_view key, std::int64_t value);

// A writer that died with files open left them `pending` with part of their blocks: drop
// those blocks (pending files never legitimately have any).
void drop_pending_blocks(const Connection& conn);

// The connection of a catalog opened as the writer; throws CatalogError for a reader.
[[nodiscard]] const Connection& writer_connection(Catalog& cat, std::string_view operation);

// Returns space to the filesystem after a mass deletion (no transaction may be open).
void vacuum(const Connection& conn);

}  // namespace rdd::catalog::detail
