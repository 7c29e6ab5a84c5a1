#pragma once
// The run log (table run, schema v5): what each real dedup-vol run did, so that `report` can
// tell what was freed so far and what the last run did. One short row per run.
#include <cstdint>
#include <optional>
#include <string>

#include "reflinkdedup/catalog/catalog.hpp"

namespace rdd::catalog {

struct RunRecord {
    std::int64_t started = 0;   // unix seconds
    std::int64_t finished = 0;  // unix seconds
    std::string command;        // "dedup-vol"
    std::string outcome;        // "done", "partial", "interrupted", "time budget reached"
    std::uint64_t bytes_shared = 0;
    std::int64_t bytes_freed = 0;  // statfs difference: may be negative by some metadata
    std::uint64_t dedupe_calls = 0;
    std::uint64_t files_skipped = 0;
};

struct RunTotals {
    std::uint64_t runs = 0;
    std::uint64_t bytes_shared = 0;
    std::int64_t bytes_freed = 0;
    std::optional<RunRecord> last;
};

// Writer only; one transaction.
void record_run(Catalog& cat, const RunRecord& run);
// Sums over every recorded run, and the latest. Works on a reader.
[[nodiscard]] RunTotals run_totals(const Catalog& cat);

}  // namespace rdd::catalog
