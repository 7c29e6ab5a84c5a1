#pragma once
// Reading file rows and deleting files: shared by queries, passes and the write batch.
#include <array>
#include <string_view>

#include "reflinkdedup/catalog/sqlite.hpp"
#include "reflinkdedup/catalog/types.hpp"

namespace rdd::catalog::detail {

// The column list read_file_row() expects, in this order, from column 0.
inline constexpr std::string_view kFileColumns =
    "id, subvol, ino, gen, volume_id, size, mtime_ns, ctime_ns, state, seen_epoch, hashed_epoch, digest, path";

[[nodiscard]] FileRow read_file_row(const Statement& st);

// Binds a digest to a statement parameter; the bytes live in `storage` until the step.
void bind_digest(Statement& st, int index, const Digest& digest, std::array<unsigned char, 16>& storage);
[[nodiscard]] Digest column_digest(const Statement& st, int col);

// Deletes a file row with its blocks and zero runs.
class FileDeleter {
public:
    explicit FileDeleter(const Connection& conn);
    void erase(FileId file);

private:
    Statement blocks_;
    Statement zero_runs_;
    Statement file_;
};

}  // namespace rdd::catalog::detail
