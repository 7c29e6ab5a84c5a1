#pragma once
// The scanner's write path: many files per transaction, committed every N rows so memory and
// the WAL stay bounded and an interrupted scan keeps most of its work.
//
// Any number of files may be open at once (a hasher pipeline finishes them out of order). An
// open file is stored in state `pending` with whatever blocks it has so far; end_file() gives
// it its final state and content digest. A commit may therefore include half-written files:
// they say `pending`, which nothing trusts (whole-file groups skip them, the scanner re-hashes
// them), and the next open_writer() drops their blocks.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/sqlite.hpp"
#include "reflinkdedup/catalog/types.hpp"

namespace rdd::catalog {

class [[nodiscard]] WriteBatch {
public:
    // `epoch` (from Catalog::begin_pass) marks every file written or touched as seen in it.
    [[nodiscard]] WriteBatch(Catalog& catalog, Epoch epoch, std::size_t rows_per_commit = 100'000);
    WriteBatch(const WriteBatch&) = delete;
    WriteBatch& operator=(const WriteBatch&) = delete;
    // Rolls back whatever was not committed (earlier commits stay).
    ~WriteBatch();

    // Inserts the file or updates it by identity (a row of another generation of the same inode
    // is deleted: the inode number was reused), drops its old blocks and opens it: state
    // `pending`, seen and hashed in this epoch. record.state and record.content_digest are
    // applied by end_file().
    [[nodiscard]] FileId begin_file(const FileRecord& record);
    // Blocks of an open file, in strictly increasing index order across calls.
    void add_blocks(FileId file, std::span<const Block> blocks);
    // `count` all-zero blocks from `first` (a hole): one zero_run row, however long the run.
    void add_zero_blocks(FileId file, std::uint64_t first, std::uint64_t count);
    // Closes the file with the state given to begin_file() and this content digest (or the
    // record's when none is given).
    void end_file(FileId file, const std::optional<Digest>& content_digest = std::nullopt);
    // Gives up on an open file (it changed under the hasher, a read failed): drops the blocks
    // written so far and its content digest, records `state`, closes it.
    void abort_file(FileId file, FileState state);
    // begin_file + add_blocks + end_file.
    FileId put_file(const FileRecord& record, std::span<const Block> blocks);

    // A pass saw the file unchanged: marks it seen, updates display path and volume.
    // With ctime_ns: the scanner proved the data unchanged although the ctime moved (a rename,
    // chmod, xattr change): the row takes the new ctime and keeps its blocks.
    void touch_file(FileId file, VolumeId volume, std::string_view path,
                    std::optional<std::int64_t> ctime_ns = std::nullopt);
    void set_state(FileId file, FileState state);

    // Commits everything so far (open files included, as `pending`); the batch stays usable.
    void commit();
    [[nodiscard]] std::size_t uncommitted_rows() const noexcept { return rows_; }
    [[nodiscard]] std::size_t open_files() const noexcept { return open_.size(); }
    // Committed rows that begin_file() deleted because their inode number now holds another
    // generation: files that are gone, which a later delete_unseen() can no longer count.
    [[nodiscard]] std::uint64_t stale_generations_deleted() const noexcept { return stale_committed_; }

private:
    // Rows per multi-row INSERT: one statement run appends them with the B-tree cursor kept
    // at the insertion point instead of a descent from the root per row.
    static constexpr std::size_t kRowsPerInsert = 32;

    struct OpenFile {
        FileState final_state = FileState::hashed;
        std::optional<Digest> content_digest;
        std::vector<Block> pending;  // non-zero blocks not inserted yet (< kRowsPerInsert)
        bool any_block = false;
        std::uint64_t next_index = 0;
        std::uint64_t zero_first = 0;
        std::uint64_t zero_count = 0;
        // The current run of blocks contiguous on disk (for the extent table).
        std::uint64_t run_phys = 0;
        std::uint64_t run_first = 0;
        std::uint64_t run_count = 0;
    };

    void ensure_transaction();
    void maybe_commit();
    OpenFile& open_file(FileId file, std::string_view operation);
    void flush_zero_run(FileId file, OpenFile& f);
    void append_zeros(FileId file, OpenFile& f, std::uint64_t first, std::uint64_t count);
    static void check_order(const OpenFile& f, std::uint64_t index);
    void flush_blocks(FileId file, OpenFile& f);
    void extend_run(FileId file, OpenFile& f, const Block& b);
    void flush_run(FileId file, OpenFile& f);
    void insert_blocks(Statement& st, FileId file, std::span<const Block> blocks);
    void drop_blocks(FileId file);

    Catalog& catalog_;
    const Connection& conn_;
    Epoch epoch_;
    std::size_t rows_per_commit_;
    std::size_t rows_ = 0;
    bool in_transaction_ = false;
    std::uint64_t stale_uncommitted_ = 0;  // rolled back with the transaction
    std::uint64_t stale_committed_ = 0;
    std::unordered_map<FileId, OpenFile> open_;

    Statement upsert_file_;
    Statement other_generations_;
    Statement delete_blocks_;
    Statement delete_zero_runs_;
    Statement insert_block_;
    Statement insert_blocks_;  // kRowsPerInsert rows
    Statement insert_zero_run_;
    Statement insert_extent_;
    Statement close_;
    Statement touch_;
    Statement set_state_;
};

}  // namespace rdd::catalog
