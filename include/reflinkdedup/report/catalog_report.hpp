#pragma once
// `reflinkdedup report`: what one filesystem's catalog knows, per volume and in total, as of
// each volume's last scan. Read-only: runs beside a scan (it sees committed data).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reflinkdedup/catalog/busy_files.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/report_queries.hpp"
#include "reflinkdedup/catalog/run_log.hpp"
#include "reflinkdedup/report/duplicate_tally.hpp"

namespace rdd::report {

struct VolumeSummary {
    // counts.busy: files in write use when last seen, by the scan (state busy_retry) or by a
    // dedup-vol run that had to leave them (the retry list), each file once.
    catalog::VolumeFileCounts counts;
    DuplicateTally duplicates;
};

struct VolumeReport {
    catalog::Volume volume;  // empty path: files of a volume no longer listed
    VolumeSummary summary;
};

inline constexpr std::size_t kMaxBusyListed = 100;

struct CatalogReport {
    std::string catalog_path;
    std::uint32_t block_size = 0;
    std::vector<VolumeReport> volumes;
    VolumeSummary total;
    std::uint64_t duplicate_groups = 0;  // digests that occur two or more times
    // The retry list (files dedup-vol left alone because someone was writing them), most
    // recently skipped first, at most kMaxBusyListed; busy_listed_total counts them all.
    std::vector<catalog::BusyFile> busy;
    std::uint64_t busy_listed_total = 0;
    // The run log: space earlier dedup-vol runs gave back, how many, the last one; freed_bytes
    // is empty until a run has been recorded.
    catalog::RunTotals runs;
    std::optional<std::int64_t> freed_bytes;
};

// Reads the catalog (one scan of the file table, one of zero runs, one duplicate-block query:
// external sort within `query`'s memory budget).
[[nodiscard]] CatalogReport build_report(const catalog::Catalog& cat, const catalog::DuplicateBlockQuery& query = {});

}  // namespace rdd::report
