#pragma once
// dedup-vol's jobs: one per destination file, built from the planned runs and from what the
// files' extents look like now (FIEMAP, btrfs EXTENT_DATA items and back references: layout,
// never data). A job says which ranges to share, which extent remainders to move first (btrfs
// bookend extents), and how much space that should give back. A dry run prints them; a real
// run executes them largest savings first.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "file_access.hpp"
#include "reflinkdedup/plan/extent_release.hpp"
#include "reflinkdedup/plan/runs.hpp"

namespace rdd {

// One dedupe request: destination blocks that are not yet shared with their source.
struct SharePiece {
    catalog::FileId src_file = 0;
    std::uint64_t src_offset = 0;
    std::uint64_t dst_offset = 0;
    std::uint64_t length = 0;  // effective: the kernel shares exactly this (dedupe_length rules)
};

// btrfs: the remainder of one extent, moved into a new extent before the file's pieces are
// shared, so that the old extent is freed whole.
struct ExtentMove {
    std::uint64_t extent = 0;          // disk address of the old extent
    std::uint64_t disk_bytes = 0;
    std::vector<ByteRange> ranges;     // file ranges to move (within the file size)
    std::vector<MovePiece> pieces;     // the same, with their places in the old extent
    std::uint64_t write_bytes = 0;     // expected allocation
    std::uint64_t freed_bytes = 0;     // expected net gain
    bool done = false;                 // tried (in this job or as another job's prerequisite)
};

struct VolJob {
    catalog::FileId file = 0;
    std::vector<SharePiece> pieces;
    std::vector<ExtentMove> moves;
    std::vector<ByteRange> holes;   // written zeros to make holes of (deduped from a hole)
    std::uint64_t share_bytes = 0;  // sum of piece lengths
    std::uint64_t hole_bytes = 0;   // sum of hole lengths
    std::uint64_t freed_bytes = 0;  // expected
    std::uint64_t held_bytes = 0;   // expected to stay allocated for read-only snapshots
    std::uint64_t write_bytes = 0;  // expected allocation of the moves
    bool pieces_done = false;
};

struct JobPlan {
    std::vector<VolJob> jobs;  // ordered by destination file id
    std::uint64_t bytes_already_shared = 0;
    bool extent_refs_unavailable = false;  // btrfs without CAP_SYS_ADMIN: no moves, rougher prediction
};

struct JobPlanOptions {
    ReleasePolicy release;  // block_size is taken from the filesystem
    bool holes = true;      // turn allocated all-zero blocks into holes
    int fs_fd = -1;         // any fd on the filesystem (subvolume lookups)
    std::string fs_path;    // for messages
};

using SkipFile = std::function<void(catalog::FileId file, const std::string& why)>;

// `runs` sorted by destination file. With options.holes, also every file the catalog knows
// all-zero blocks of that are still allocated. Files that cannot take part are reported
// through `skip`.
[[nodiscard]] JobPlan build_jobs(std::span<const SharedRun> runs, FileAccess& files, const catalog::Catalog& cat,
                                 const JobPlanOptions& options, const SkipFile& skip);

// The job of `file` in `plan`, or nullptr (jobs are ordered by file id).
[[nodiscard]] VolJob* find_job(JobPlan& plan, catalog::FileId file);

}  // namespace rdd
