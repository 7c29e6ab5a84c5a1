#pragma once
// `reflinkdedup dedup-files SOURCE DEST...`: share every identical block-aligned range between
// the source and each destination at the same offset.
#include <cstdint>
#include <string>
#include <vector>

#include "reflinkdedup/app/file_set.hpp"
#include "reflinkdedup/lock/lock_method.hpp"

namespace rdd {

struct DedupFilesOptions {
    std::vector<std::string> paths;  // paths[0] is the source
    bool dry_run = false;            // compare and plan, call nothing
    std::uint64_t window_bytes = 16u << 20;  // compared and shared per step; shrinks with many files
    lock::LockMethod lock_method = lock::kDefaultLockMethod;  // how files are kept from writers
    std::string state_dir = "/var/lib/reflinkdedup";        // freeze journal of --lock=immutable
};

struct DedupFilesReport {
    std::string fs_type;
    std::uint64_t files = 0;                  // files named, source included
    std::uint64_t bytes_compared = 0;         // destination bytes read and compared
    std::uint64_t bytes_already_shared = 0;   // found sharing the source's extents already
    std::uint64_t bytes_dedupable = 0;        // equal, not yet shared: what was asked of the kernel
    std::uint64_t bytes_shared = 0;           // verified shared afterwards by FIEMAP
    std::uint64_t bytes_changed = 0;          // kernel found them different (changed meanwhile)
    std::uint64_t dedupe_calls = 0;
    std::int64_t bytes_freed = 0;             // free-space difference after commit (0 in dry run)
    bool dry_run = false;
    bool interrupted = false;
    std::vector<SkippedFile> skipped;         // never touched, or left as they were
    std::string lock_method;                  // "lease", "immutable" or "none"
    std::uint64_t freezes_recovered = 0;      // immutable flags of a crashed run put back first
};

// Throws InputError (nothing changed) or SysError (unexpected system failure).
[[nodiscard]] DedupFilesReport dedup_files(const DedupFilesOptions& options);

}  // namespace rdd
