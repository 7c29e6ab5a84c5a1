#pragma once
// The catalog of one filesystem: one SQLite file (WAL), opened as the single writer (under the
// writer lock) or as a reader (no lock; sees committed data). Not thread-safe: one Catalog per
// thread; a WriteBatch must not outlive its Catalog nor see it moved. Queries stream through
// callbacks; a callback returns false to stop early (the query then returns false).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reflinkdedup/catalog/sqlite.hpp"
#include "reflinkdedup/catalog/types.hpp"
#include "reflinkdedup/catalog/writer_lock.hpp"

namespace rdd::catalog {

inline constexpr std::string_view kDigestAlgorithm = "xxh3-128";

struct OpenOptions {
    // Block size of the digests. 0 = take the catalog's (creating a catalog needs one).
    std::uint32_t block_size = 0;
    // With block_size 0: the block size of a catalog that has none yet, a new one or one whose
    // creation was interrupted (a killed first scan leaves the schema without it). 0 = none.
    std::uint32_t new_block_size = 0;
    // On a block size mismatch, drop all file/block data and adopt block_size instead of
    // throwing BlockSizeMismatchError.
    bool reset_on_block_size_change = false;
    std::chrono::milliseconds lock_timeout{0};
    // SQLite page cache per connection, KiB.
    std::int64_t cache_kib = 64 * 1024;
};

// Duplicate block groups: every digest stored more than once, in digest order.
struct DuplicateBlockQuery {
    enum class Method {
        automatic,  // probe when changed_since is set and few blocks changed, otherwise sort
        sort,       // one scan of all block rows, external sort (bounded memory, temp files)
        probe,      // the changed digests in an in-memory set, one scan keeps their occurrences
    };
    // > 0: only groups with at least one block of a file hashed at or after this epoch
    // (a nightly run plans only what is new; the groups still list every occurrence).
    Epoch changed_since = 0;
    Method method = Method::automatic;
    // Most distinct changed digests the probe holds (up to 64 bytes each); beyond, it sorts.
    std::size_t probe_limit = std::size_t{1} << 20;
    // Memory for sorting occurrences; past it they spill to unnamed files in temp_dir.
    std::size_t sort_memory = std::size_t{64} << 20;
    // Empty: the catalog's own (private) directory. Needs about 40 bytes per block row.
    std::filesystem::path temp_dir;
};

// Whole-file duplicates: hashed files of equal (size, content digest).
struct DuplicateFileQuery {
    std::uint64_t min_size = 1;
    Epoch changed_since = 0;  // > 0: only groups with a member hashed at or after this epoch
};

struct CatalogStats {
    std::int64_t volumes = 0;
    std::int64_t files = 0;
    std::int64_t hashed_files = 0;
    std::int64_t block_rows = 0;   // non-zero blocks
    std::int64_t zero_blocks = 0;  // blocks stored as zero runs
    std::uint64_t db_bytes = 0;
    std::uint64_t wal_bytes = 0;
};

using FileVisitor = std::function<bool(const FileRow&)>;
using BlockVisitor = std::function<bool(const Block&)>;
using ZeroRunVisitor = std::function<bool(const ZeroRun&)>;
using FileGroupVisitor = std::function<bool(std::span<const FileRow>)>;
// Occurrences of one digest, ordered by (file, index); at least two.
using BlockGroupVisitor = std::function<bool(const Digest&, std::span<const BlockOccurrence>)>;

class Catalog {
public:
    // Creates the catalog if missing (directory 0700, file 0600; a wider mode on an existing file
    // is tightened), takes the writer lock, migrates the schema, checks digest algorithm and
    // block size. Throws WriterLockTimeoutError, SchemaTooNewError, BlockSizeMismatchError,
    // CorruptCatalogError, CatalogError, rdd::SysError.
    [[nodiscard]] static Catalog open_writer(const std::filesystem::path& path, const OpenOptions& options);
    // Opens an existing catalog read-only, without the writer lock.
    [[nodiscard]] static Catalog open_reader(const std::filesystem::path& path, std::int64_t cache_kib = 64 * 1024);

    Catalog(Catalog&&) noexcept = default;
    Catalog& operator=(Catalog&&) noexcept = default;
    ~Catalog() = default;

    [[nodiscard]] const std::string& path() const noexcept { return conn_.path(); }
    [[nodiscard]] bool writable() const noexcept { return lock_.held(); }
    [[nodiscard]] std::uint32_t block_size() const noexcept { return block_size_; }
    // Raw SQL access for tools and tests; the schema is not an API.
    [[nodiscard]] const Connection& connection() const noexcept { return conn_; }

    // --- writer: volumes and passes -----------------------------------------------------
    // Finds the volume (by subvol_id if != 0, else by path) or adds it; updates its path.
    [[nodiscard]] VolumeId add_volume(std::uint64_t subvol_id, std::string_view path);
    // Starts a scan pass of the volume: returns its epoch (for WriteBatch and delete_unseen).
    // Epochs are global and increasing; they can also be used as DuplicateBlockQuery::changed_since.
    [[nodiscard]] Epoch begin_pass(VolumeId volume);
    // Records the outcome; the generation is stored only for a complete pass.
    void finish_pass(VolumeId volume, std::uint64_t generation, ScanState state = ScanState::complete);
    // The settings (excludes, minimum size, ...) the volume's last complete pass ran with, as an
    // opaque string: an incremental pass is only valid under the same ones. "" = not recorded.
    [[nodiscard]] std::string scan_settings(VolumeId volume) const;
    void set_scan_settings(VolumeId volume, std::string_view settings);
    // btrfs directories (see schema v4): entry count and highest DIR_INDEX at the last pass.
    struct DirectoryEntries {
        std::uint64_t ino = 0;
        std::uint64_t entries = 0;
        std::uint64_t max_index = 0;
    };
    [[nodiscard]] std::optional<DirectoryEntries> directory(std::uint64_t subvol, std::uint64_t ino) const;
    void set_directory(std::uint64_t subvol, const DirectoryEntries& dir);
    // All of a subvolume's directories at once (after a full pass), in one transaction.
    void replace_directories(std::uint64_t subvol, std::span<const DirectoryEntries> dirs);
    // After a full pass: deletes the volume's files not seen in `pass` (and their blocks).
    std::uint64_t delete_unseen(VolumeId volume, Epoch pass);
    bool delete_file(FileId file);
    // Several files (and their blocks) in one transaction; returns how many existed.
    std::uint64_t delete_files(std::span<const FileId> files);
    // Forgets a volume: its files, their blocks and its scan state. Returns the files deleted.
    std::uint64_t forget_volume(VolumeId volume);
    // Drops all file, block and volume data and returns the space; keeps block size and epochs.
    void reset();
    void checkpoint();

    // --- queries (reader or writer) ---------------------------------------------------
    [[nodiscard]] std::optional<FileRow> find_file(const FileIdentity& identity) const;
    [[nodiscard]] std::optional<FileRow> file(FileId id) const;
    // The files of a subvolume (0 without subvolumes) in (inode, generation) order.
    bool for_each_file(std::uint64_t subvol, const FileVisitor& visit) const;
    [[nodiscard]] std::optional<Volume> volume(VolumeId id) const;
    [[nodiscard]] std::vector<Volume> volumes() const;
    struct VolumeTotals {
        std::uint64_t files = 0;
        std::uint64_t bytes = 0;  // sum of file sizes
    };
    [[nodiscard]] VolumeTotals volume_totals(VolumeId volume) const;
    // The catalogued full block of a hashed file at `physical`, found through the extent table
    // and checked against the block table (its recorded address must still be `physical`).
    [[nodiscard]] std::optional<std::pair<FileId, Block>> block_at_physical(std::uint64_t physical) const;
    // A file's blocks in index order, zero blocks included (flagged). Returns false if stopped.
    bool for_each_block(FileId file, const BlockVisitor& visit) const;
    bool for_each_zero_run(FileId file, const ZeroRunVisitor& visit) const;
    // Groups ordered by (size, digest); members by id.
    bool for_each_duplicate_file_group(const FileGroupVisitor& visit, const DuplicateFileQuery& query = {}) const;
    bool for_each_duplicate_block_group(const BlockGroupVisitor& visit, const DuplicateBlockQuery& query = {}) const;
    [[nodiscard]] CatalogStats stats() const;  // counts scan the tables: seconds at 10^8 rows
    // PRAGMA quick_check; throws CorruptCatalogError with SQLite's findings.
    void check_integrity() const;

private:
    Catalog(WriterLock lock, Connection conn, std::uint32_t block_size) noexcept;
    void require_writer(std::string_view operation) const;
    bool duplicate_groups_by_sort(const BlockGroupVisitor& visit, const DuplicateBlockQuery& query) const;
    bool duplicate_groups_by_probe(const BlockGroupVisitor& visit, const DuplicateBlockQuery& query) const;

    friend class WriteBatch;

    WriterLock lock_;  // declared first: released after the connection is closed
    Connection conn_;
    std::uint32_t block_size_ = 0;
};

}  // namespace rdd::catalog
