#pragma once
// The options every command that scans takes (scan-vol, dedup-vol), the progress line they
// show, and how catalog failures map to exit codes.
#include <boost/program_options/options_description.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "progress_line.hpp"
#include "reflinkdedup/scan/scan_volumes.hpp"

namespace rdd::cli {

struct ScanOptionValues {
    std::string db, block_size, min_size = "1", wait = "0", io = "auto", ro_snapshots = "source-only";
    bool reset_block_size = false, rehash = false, recursive = false, walk = false;
    std::vector<std::string> excludes;
};

void add_scan_options(boost::program_options::options_description& opts, ScanOptionValues& v);

// Checks and converts the values (UsageError naming `command` when one is malformed).
[[nodiscard]] ScanOptions make_scan_options(const ScanOptionValues& v, std::vector<std::string> roots,
                                            std::string_view command);

// Progress of a scan on the given line.
[[nodiscard]] ScanProgressCallback scan_progress(ProgressLine& line);

// Runs `body`, turning catalog failures into their exit codes: busy -> 3 (after one line on
// stderr); newer schema, block size mismatch and bad paths -> InputError (2).
int with_catalog_errors(const std::function<int()>& body);

[[nodiscard]] nlohmann::json scan_report_json(const ScanReport& r);
void print_scan_text(std::ostream& out, const ScanReport& r);

}  // namespace rdd::cli
