#include <boost/program_options.hpp>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "command_line.hpp"
#include "format.hpp"
#include "json_output.hpp"
#include "reflinkdedup/app/exit_codes.hpp"
#include "reflinkdedup/app/input_error.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/report/catalog_report.hpp"
#include "scan_state_name.hpp"
#include "usage_error.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

namespace {

constexpr const char* kHelp = R"(Usage: reflinkdedup report [--db PATH] [--json] [PATH]

What a filesystem's catalog knows, per volume and in total, as of each volume's last scan:
  files       files catalogued, and their bytes
  hashed      files whose blocks are digested; busy: files that were being written when
              scanned or when dedup-vol came to them (retried first by the next run; listed
              below the table with who wrote them); failed: files that could not be read;
              nocow: btrfs NOCOW files, which cannot share with others
  duplicate   bytes stored more than once: for each block content the catalog has seen at
              two or more disk places, every copy beyond the first. This is what dedup-vol
              can still share (by whole blocks; btrfs frees an extent only once all of it
              is shared, see the README)
  shared      bytes already sharing a disk place with another catalogued block (reflink
              copies, snapshots, earlier dedupes seen by a scan since)
  zero        all-zero blocks
The catalog is the one of the filesystem holding PATH, or --db. Read-only: it can run while
another reflinkdedup scans. It reads every block row of the catalog once (about 30 s per
10^8 rows).

Freed so far: this catalog version does not record what earlier runs freed; the report says
so. (Each dedup-vol and dedup-files run prints what it freed, measured with statfs.)

Exit status:
  0  reported
  2  usage or input error (no catalog at PATH, a catalog from a newer version)
  5  an unexpected system error, or a damaged catalog

Examples:
  reflinkdedup report /mnt/backup
  reflinkdedup report --json --db /var/lib/reflinkdedup/0c5b...e1.sqlite

Options)";

nlohmann::json summary_json(const report::VolumeSummary& s) {
    const catalog::VolumeFileCounts& c = s.counts;
    return {{"files", c.files},
            {"bytes", c.bytes},
            {"hashed_files", c.hashed},
            {"pending_files", c.pending},
            {"busy_files", c.busy},
            {"failed_files", c.failed},
            {"nocow_files", c.nocow},
            {"zero_bytes", c.zero_bytes},
            {"duplicate_bytes", s.duplicates.duplicate_bytes},
            {"shared_bytes", s.duplicates.shared_bytes}};
}

// A busy file's path: the catalog keeps it relative to its volume's root.
std::string busy_path(const report::CatalogReport& r, const catalog::BusyFile& b) {
    if (b.path.starts_with("/")) return b.path;
    for (const report::VolumeReport& v : r.volumes) {
        if (v.volume.id == b.volume && !v.volume.path.empty()) return v.volume.path + "/" + b.path;
    }
    return b.path;
}

std::string local_time(std::int64_t unix_seconds) {
    const auto t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    char buf[32];
    if (::localtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm) == 0) return "?";
    return buf;
}

nlohmann::json to_json(const report::CatalogReport& r) {
    nlohmann::json j{{"command", "report"}, {"catalog", r.catalog_path}, {"block_size", r.block_size}};
    j["volumes"] = nlohmann::json::array();
    for (const report::VolumeReport& v : r.volumes) {
        nlohmann::json e = summary_json(v.summary);
        e["id"] = v.volume.id;
        e["subvol_id"] = v.volume.subvol_id;
        e["path"] = v.volume.path;
        e["state"] = scan_state_name(v.volume.scan_state);
        j["volumes"].push_back(std::move(e));
    }
    j["total"] = summary_json(r.total);
    j["total"]["duplicate_groups"] = r.duplicate_groups;
    j["freed_bytes"] = r.freed_bytes ? nlohmann::json(*r.freed_bytes) : nlohmann::json(nullptr);
    j["runs"] = r.runs.runs;
    j["last_run"] = nullptr;
    if (const auto& l = r.runs.last) {
        j["last_run"] = {{"command", l->command},         {"started", l->started},
                         {"finished", l->finished},       {"outcome", l->outcome},
                         {"bytes_shared", l->bytes_shared}, {"bytes_freed", l->bytes_freed},
                         {"dedupe_calls", l->dedupe_calls}, {"files_skipped", l->files_skipped}};
    }
    j["busy_count"] = r.busy_listed_total;
    j["busy"] = nlohmann::json::array();
    for (const catalog::BusyFile& b : r.busy) {
        j["busy"].push_back({{"path", busy_path(r, b)}, {"volume", b.volume}, {"reason", b.reason}, {"pid", b.pid},
                             {"comm", b.comm}, {"first_seen", b.first_seen}, {"last_seen", b.last_seen},
                             {"times", b.times}});
    }
    return j;
}

void print_row(const std::string& id, const std::string& state, const report::VolumeSummary& s,
               const std::string& path) {
    const catalog::VolumeFileCounts& c = s.counts;
    std::printf("%5s %-11s %9llu %10s %10s %10s %10s %6llu %6llu  %s\n", id.c_str(), state.c_str(),
                static_cast<unsigned long long>(c.files), iec_bytes(c.bytes).c_str(),
                iec_bytes(s.duplicates.duplicate_bytes).c_str(), iec_bytes(s.duplicates.shared_bytes).c_str(),
                iec_bytes(c.zero_bytes).c_str(), static_cast<unsigned long long>(c.busy),
                static_cast<unsigned long long>(c.failed), path.c_str());
}

void print_text(const report::CatalogReport& r) {
    std::printf("catalog %s (%s blocks)\n", r.catalog_path.c_str(), iec_bytes(std::uint64_t{r.block_size}).c_str());
    std::printf("%5s %-11s %9s %10s %10s %10s %10s %6s %6s  %s\n", "ID", "STATE", "FILES", "BYTES", "DUPLICATE",
                "SHARED", "ZERO", "BUSY", "FAILED", "PATH");
    for (const report::VolumeReport& v : r.volumes) {
        print_row(std::to_string(v.volume.id), scan_state_name(v.volume.scan_state), v.summary,
                  v.volume.path.empty() ? "(volume no longer listed)" : v.volume.path);
    }
    print_row("", "total", r.total, "");
    std::printf("%llu block contents occur more than once (stored apart or already shared)\n",
                static_cast<unsigned long long>(r.duplicate_groups));
    if (r.busy_listed_total > 0) {
        std::printf("%llu files left alone while being written (the next dedup-vol tries them first):\n",
                    static_cast<unsigned long long>(r.busy_listed_total));
        for (const catalog::BusyFile& b : r.busy) {
            std::printf("  %s: %s (%lld times since %s, last %s)\n", busy_path(r, b).c_str(), b.reason.c_str(),
                        static_cast<long long>(b.times), local_time(b.first_seen).c_str(),
                        local_time(b.last_seen).c_str());
        }
        if (r.busy_listed_total > r.busy.size()) {
            std::printf("  ... and %llu more\n", static_cast<unsigned long long>(r.busy_listed_total - r.busy.size()));
        }
    }
    if (const auto& l = r.runs.last) {
        std::printf("freed so far: %s by %llu dedup-vol runs; the last, %s: %s, shared %s, freed %s\n",
                    iec_bytes(r.runs.bytes_freed).c_str(), static_cast<unsigned long long>(r.runs.runs),
                    local_time(l->started).c_str(), l->outcome.c_str(), iec_bytes(l->bytes_shared).c_str(),
                    iec_bytes(l->bytes_freed).c_str());
    } else {
        std::printf("freed so far: nothing yet (no dedup-vol run recorded)\n");
    }
}

}  // namespace

int run_report(const std::vector<std::string>& args) {
    po::options_description opts(kHelp);
    std::string db;
    bool json = false;
    opts.add_options()("help,h", "show this help")("db", po::value(&db), "catalog file")(
        "json", po::bool_switch(&json), "print one JSON object (schema: /usr/share/doc/reflinkdedup/json-schema.md)");
    const auto operands = parse_command_line("report", args, opts);
    if (!operands) return to_int(ExitCode::Done);
    if (operands->size() > 1) throw UsageError("report: takes at most one PATH");
    const std::string path = catalog_from_options(db, *operands, "report");
    if (!std::filesystem::exists(path)) throw InputError(path + ": no catalog yet (run scan-vol first)");
    const report::CatalogReport r = report::build_report(catalog::Catalog::open_reader(path));
    if (json) {
        print_json_line(std::cout, to_json(r));
    } else {
        std::cout.flush();
        print_text(r);
    }
    return to_int(ExitCode::Done);
}

}  // namespace rdd::cli
