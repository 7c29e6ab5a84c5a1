#pragma once
// `scan-vol`: record every regular file under the given roots in the filesystem's catalog,
// with digests of its data, reading only what changed since the last scan.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "reflinkdedup/hash/read_engine_kind.hpp"

namespace rdd {

// 4 KiB, the filesystems' block: every duplicate block can be found, which the nightly-backup
// benchmark needs to free >= 95% (btrfs) and 97% (XFS) of the exact maximum (measured: 4K
// 100%, 8K 98%, 16K 95.5%, 64K 91-92%). The price is catalog size, about 0.9% of the catalogued
// data (64K: 0.09%); --block-size 64K on a new catalog trades the rest for that.
inline constexpr std::uint32_t kDefaultScanBlockSize = 4 * 1024;

// What to do with btrfs read-only snapshots met by a scan (KERNEL-FACTS §4: as root, a dedupe
// through an O_RDONLY fd would modify them, so the check is ours).
enum class RoSnapshots {
    source_only,  // scanned; their data serves as a dedupe source; never modified (default)
    skip,         // not scanned (rows from earlier scans stay until `reset`)
    dedupe,       // scanned and may be modified like any file (breaks incremental send)
};

// "source-only", "skip", "dedupe"; std::invalid_argument otherwise.
[[nodiscard]] RoSnapshots parse_ro_snapshots(const std::string& text);
[[nodiscard]] const char* to_string(RoSnapshots policy) noexcept;

struct ScanOptions {
    std::vector<std::string> roots;       // directories on one filesystem
    std::string catalog_path;             // "" = /var/lib/reflinkdedup/<fs-uuid>.sqlite
    std::uint32_t block_size = 0;         // 0 = the catalog's, or the default for a new one
    bool reset_on_block_size_change = false;
    std::uint64_t min_size = 1;           // smaller files are not catalogued
    std::vector<std::string> excludes;    // see PathFilter
    std::chrono::milliseconds wait{0};    // for the catalog's writer lock
    hash::EngineChoice engine = hash::EngineChoice::Auto;
    bool rehash = false;                  // read every file again, whatever the catalog says
    bool recursive = false;               // btrfs: also every subvolume below the roots
    RoSnapshots ro_snapshots = RoSnapshots::source_only;
    // btrfs: always walk directories (every file looked at each run) instead of the incremental
    // tree search; the only way without CAP_SYS_ADMIN.
    bool walk = false;
    std::function<bool()> stop;           // checked between files: true ends the scan early
};

struct ScanProgress {
    std::uint64_t files_seen = 0;
    std::uint64_t files_hashed = 0;
    std::uint64_t bytes_read = 0;
    std::uint64_t bytes_queued = 0;  // bytes of files sent to the hasher so far
    bool walk_done = false;          // bytes_queued is final: an ETA can be given
};

// What happened to one scan root.
struct VolumeScanResult {
    std::string path;
    std::uint64_t subvol = 0;             // btrfs subvolume id; 0 for a directory root
    bool read_only = false;               // a btrfs read-only snapshot
    std::string mode;                     // "full", "incremental", "skipped", "interrupted"
    std::uint64_t since_generation = 0;   // incremental: changes after this generation
    std::uint64_t generation = 0;         // recorded for the next incremental pass
    std::uint64_t inodes_changed = 0;     // incremental: regular files with a newer transid
    bool deletions_reconciled = false;    // incremental: a directory changed, every inode listed
    std::uint64_t files_deleted = 0;
};

struct ScanReport {
    std::string catalog_path;
    std::string filesystem;
    std::string engine;                    // "io_uring" or "pread"
    std::uint32_t block_size = 0;
    std::uint64_t files_seen = 0;          // regular files met by the walk (hard links each time)
    std::uint64_t files_hashed = 0;        // new or changed: read and hashed
    std::uint64_t files_unchanged = 0;     // (ino, gen, size, mtime, ctime) as catalogued: not read
    std::uint64_t files_deleted = 0;       // catalogued files that are gone
    std::uint64_t bytes_read = 0;          // data actually read from disk
    std::uint64_t bytes_hashed = 0;        // size of the files (re)catalogued: read, kept or holes
    std::uint64_t bytes_reused = 0;        // btrfs: blocks of changed files still where they were, not read
    std::uint64_t subvolumes_deleted = 0;  // catalogued btrfs subvolumes that are gone: forgotten
    std::vector<VolumeScanResult> volumes;
    std::map<std::string, std::uint64_t> skipped;  // reason -> files or directories
    std::vector<std::string> errors;       // files that could not be read ("path: why"), first 100
    std::uint64_t error_count = 0;
    double elapsed_s = 0;
    std::uint64_t catalog_bytes = 0;       // database + WAL after the scan
    bool interrupted = false;
};

using ScanProgressCallback = std::function<void(const ScanProgress&)>;

// Throws InputError-like std::runtime_error subclasses from the catalog (busy, newer schema,
// block size mismatch) and rdd::SysError for unexpected failures.
[[nodiscard]] ScanReport scan_volumes(const ScanOptions& options,
                                      const ScanProgressCallback& progress = {});

// The catalog a filesystem gets when --db is not given.
[[nodiscard]] std::string default_catalog_path(const std::string& fs_uuid);

// The default catalog of the filesystem holding the directory `path` (std::invalid_argument
// when it is not a directory on btrfs or XFS with reflink, or its UUID is unknown).
[[nodiscard]] std::string default_catalog_for(const std::string& path);

}  // namespace rdd
