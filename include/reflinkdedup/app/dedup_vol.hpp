#pragma once
// `reflinkdedup dedup-vol PATH...`: scan-vol, then share every duplicate block run the catalog
// knows, across all files of the filesystem's catalogued volumes, at any block-aligned offsets.
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
    std::string state_dir = "/var/lib/reflinkdedup";
    std::size_t max_mappings = 4u << 20;  // planned block mappings held at once (48 bytes each)
};

struct DedupVolReport {
    ScanReport scan;
    std::string lock_method;
    std::uint64_t duplicate_groups = 0;     // digests found in more than one block
    std::uint64_t runs = 0;                 // planned (source range -> destination range) runs
    bool plan_truncated = false;            // more than max_mappings: the next run does the rest
    std::uint64_t dedupe_calls = 0;
    std::uint64_t bytes_already_shared = 0; // runs whose blocks already share the source's extent
    std::uint64_t bytes_dedupable = 0;      // asked of the kernel (dry run: what would be)
    std::uint64_t bytes_shared = 0;         // verified by FIEMAP afterwards
    std::uint64_t bytes_changed = 0;        // the kernel found the data different (changed)
    std::int64_t bytes_freed = 0;           // free-space difference after commit
    std::vector<SkippedFile> skipped;       // first 100 files left alone, with why
    std::uint64_t skipped_count = 0;
    bool interrupted = false;
};

// Throws what scan_volumes throws, InputError, and SysError for unexpected failures.
[[nodiscard]] DedupVolReport dedup_vol(const DedupVolOptions& options,
                                       const ScanProgressCallback& progress = {});

}  // namespace rdd
