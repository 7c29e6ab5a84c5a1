#pragma once
// `reflinkdedup dedup-vol PATH...`: scan-vol, then share every duplicate block run the catalog
// knows, across all files of the filesystem's catalogued volumes, at any block-aligned offsets.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "reflinkdedup/app/file_set.hpp"
#include "reflinkdedup/lock/lock_method.hpp"
#include "reflinkdedup/scan/scan_volumes.hpp"

namespace rdd {

struct DedupVolOptions {
    ScanOptions scan;
    bool dry_run = false;
    lock::LockMethod lock_method = lock::kDefaultLockMethod;
    std::size_t max_mappings = 4u << 20;  // planned block mappings held at once (48 bytes each)
    // Time budget of the whole run; 0 = none. Jobs go largest expected savings first and stop
    // between files once it is spent (one job always runs: every run makes progress); the scan
    // stops too once it has had to read (it keeps what it hashed). The next run goes on.
    std::chrono::milliseconds max_runtime{0};
    // btrfs bookend extents: move a partly shared extent's remainder to a new extent when that
    // writes at most this many bytes per byte it gives back (0: never move).
    double max_move_ratio = 2.0;
    // All-zero blocks that take space (written zeros, preallocated extents) become holes
    // (FIDEDUPERANGE from a hole; contents, mtime and ctime unchanged). False keeps them.
    bool zero_holes = true;
};

// A dry run's plan, one entry per destination file, in the order a real run takes them.
struct PlannedShare {
    std::string source;
    std::uint64_t src_offset = 0;
    std::uint64_t dst_offset = 0;
    std::uint64_t length = 0;
};
struct PlannedMove {  // btrfs: ranges moved to a new extent so that the old one is freed whole
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};
struct PlannedJob {
    std::string path;
    std::uint64_t share_bytes = 0;
    std::uint64_t freed_bytes = 0;  // expected
    std::uint64_t held_bytes = 0;   // expected to stay allocated for read-only snapshots
    std::uint64_t move_bytes = 0;   // expected allocation of the moves
    std::uint64_t hole_bytes = 0;   // written zeros to make holes of
    std::vector<PlannedShare> shares;
    std::vector<PlannedMove> moves;
};

struct DedupVolReport {
    ScanReport scan;
    std::string lock_method;
    std::uint64_t duplicate_groups = 0;     // digests found in more than one block
    std::uint64_t runs = 0;                 // planned (source range -> destination range) runs
    bool plan_truncated = false;            // more than max_mappings: the next run does the rest
    std::uint64_t jobs = 0;                 // destination files with blocks to share
    std::uint64_t jobs_done = 0;
    std::uint64_t dedupe_calls = 0;         // dry run: the calls a real run would make
    std::uint64_t bytes_already_shared = 0; // blocks already sharing their source's extent
    std::uint64_t bytes_dedupable = 0;      // asked of the kernel (dry run: what would be)
    std::uint64_t bytes_shared = 0;         // verified by FIEMAP afterwards
    std::uint64_t bytes_changed = 0;        // the kernel found the data different (changed)
    std::uint64_t bytes_freed_expected = 0; // from the extent layout: what sharing should give back
    std::uint64_t bytes_held_by_snapshots = 0;  // btrfs: stays allocated, a read-only snapshot uses it
    std::uint64_t extents_moved = 0;        // btrfs: remainders moved so their old extent is freed
    std::uint64_t bytes_moved = 0;          // data written for that (dry run: expected allocation)
    std::uint64_t bytes_zero_holes = 0;     // written zeros made holes (dry run: that would be)
    std::uint64_t bytes_read = 0;           // data read to warm the kernel's compare and to move
    std::int64_t bytes_freed = 0;           // free-space difference after commit
    bool time_budget_reached = false;       // --max-runtime: stopped between jobs, rest next run
    std::uint64_t jobs_left = 0;
    std::vector<PlannedJob> plan;           // dry run only
    std::uint64_t files_inline = 0;         // btrfs inline files among the duplicates: nothing to share
    std::vector<SkippedFile> skipped;       // first 100 files left alone, with why
    std::uint64_t skipped_count = 0;
    bool interrupted = false;
};

// Throws what scan_volumes throws, InputError, and SysError for unexpected failures.
[[nodiscard]] DedupVolReport dedup_vol(const DedupVolOptions& options,
                                       const ScanProgressCallback& progress = {});

}  // namespace rdd
