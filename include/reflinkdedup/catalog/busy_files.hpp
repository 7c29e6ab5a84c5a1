#pragma once
// The retry list (table busy_file, schema v3): catalogued files dedup-vol left alone because
// someone was writing them, with why, who and when. The next run tries them first; a file
// leaves the list when a run has done its work, or when its file row is gone (rows of deleted
// files are dropped by prune_busy_files and never returned by busy_files).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/types.hpp"

namespace rdd::catalog {

// What the locker saw when it skipped a file.
struct BusyRecord {
    FileId file = 0;
    std::string reason;   // "in write use: pid 4242 (vim) has it open for writing (fd 3)", ...
    std::int64_t pid = 0;  // the first writer found, 0 when none was visible
    std::string comm;     // its command name, "" when none
};

struct BusyFile {
    FileId file = 0;
    VolumeId volume = 0;
    std::string path;              // the file row's display path (relative to its volume)
    std::string reason;            // of the latest skip
    std::int64_t pid = 0;          // of the latest skip, 0 = unknown
    std::string comm;
    std::int64_t first_seen = 0;   // unix seconds of the first skip since it was last done
    std::int64_t last_seen = 0;    // unix seconds of the latest skip
    std::int64_t times = 0;        // record_busy calls since it was last done (dedup-vol: runs)
};

// The list, for reports: files that still exist in the catalog, most recently skipped first.
// Works on a reader.
[[nodiscard]] std::vector<BusyFile> busy_files(const Catalog& cat);

// Writer only (each its own transaction, or a savepoint inside an open one).
// Adds the files or updates their row (reason, pid, comm, last_seen; times + 1).
void record_busy(Catalog& cat, std::span<const BusyRecord> files, std::int64_t now_unix);
// Removes the files from the list; returns how many were on it.
std::uint64_t clear_busy(Catalog& cat, std::span<const FileId> files);
// Removes every file except `keep`; returns how many went.
std::uint64_t clear_busy_except(Catalog& cat, std::span<const FileId> keep);
// Removes the rows whose file is no longer catalogued; returns how many.
std::uint64_t prune_busy_files(Catalog& cat);

}  // namespace rdd::catalog
