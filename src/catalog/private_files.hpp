#pragma once
// The catalog holds digests of everyone's files: its directory and files are private to root.
#include <cstdint>
#include <filesystem>
#include <string>

namespace rdd::catalog::detail {

// Creates the missing components of `dir` with mode 0700; an existing directory is left as is.
void ensure_private_dir(const std::filesystem::path& dir);
// Creates `path` with mode 0600 if missing; removes group/other bits from an existing one.
void ensure_private_file(const std::string& path);
// Removes group/other bits if `path` exists (the WAL and shared-memory files).
void tighten_if_exists(const std::string& path);
// Size in bytes, 0 if missing.
[[nodiscard]] std::uint64_t file_size_or_zero(const std::string& path);

}  // namespace rdd::catalog::detail
