#include <boost/program_options.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "json_output.hpp"
#include "command_line.hpp"
#include "format.hpp"
#include "reflinkdedup/app/exit_codes.hpp"
#include "reflinkdedup/app/input_error.hpp"
#include "reflinkdedup/btrfs/subvolume.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/scan/scan_volumes.hpp"
#include "scan_state_name.hpp"
#include "usage_error.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

namespace {

constexpr const char* kHelp = R"(Usage: reflinkdedup show-vols [--db PATH] [--json] [PATH]

List the volumes (btrfs subvolumes or directory trees) a filesystem's catalog knows: id,
subvolume id, read-only flag (btrfs, as it is now), state of the last scan, the btrfs
generation it recorded, files and bytes catalogued, path. The catalog is the one of the
filesystem holding PATH, or --db; with neither, every catalog in /var/lib/reflinkdedup (every
filesystem scanned with the default catalog) is listed.

Exit status:
  0  listed
  2  usage or input error (no catalog at PATH, a catalog from a newer version)
  5  an unexpected system error, or a damaged catalog
(It only reads the catalog: a running scan does not make it wait.)

Examples:
  reflinkdedup show-vols
  reflinkdedup show-vols /mnt/backup
  reflinkdedup show-vols --json --db /var/lib/reflinkdedup/0c5b...e1.sqlite

Options)";

// "yes"/"no" for a btrfs subvolume that exists now, "-" for directory volumes, "?" otherwise.
std::string read_only_now(const catalog::Volume& v) {
    if (v.subvol_id == 0) return "-";
    try {
        return btrfs::subvolume_at(v.path).read_only ? "yes" : "no";
    } catch (const std::exception&) {
        return "?";
    }
}

}  // namespace

int run_show_vols(const std::vector<std::string>& args) {
    po::options_description opts(kHelp);
    std::string db;
    bool json = false;
    opts.add_options()("help,h", "show this help")("db", po::value(&db), "catalog file")(
        "json", po::bool_switch(&json), "print one JSON object");
    const auto operands = parse_command_line("show-vols", args, opts);
    if (!operands) return to_int(ExitCode::Done);
    if (operands->size() > 1) throw UsageError("show-vols: takes at most one PATH");
    std::vector<std::string> catalogs;
    if (db.empty() && operands->empty()) {
        // Every filesystem scanned with the default catalog: <uuid>.sqlite in the state directory.
        const std::filesystem::path dir = std::filesystem::path(default_catalog_path("x")).parent_path();
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
            if (entry.path().extension() == ".sqlite") catalogs.push_back(entry.path().string());
        }
        std::sort(catalogs.begin(), catalogs.end());
        if (catalogs.empty()) throw InputError(dir.string() + ": no catalogs yet (run scan-vol first)");
    } else {
        catalogs.push_back(catalog_from_options(db, *operands, "show-vols"));
        if (!std::filesystem::exists(catalogs.front())) throw InputError(catalogs.front() + ": no catalog yet (run scan-vol first)");
    }

    nlohmann::json j{{"command", "show-vols"}, {"catalog", catalogs.front()}, {"volumes", nlohmann::json::array()}};
    if (!json) std::printf("%4s %8s %3s %-11s %10s %10s %10s  %s\n", "ID", "SUBVOL", "RO", "STATE", "GEN", "FILES", "BYTES", "PATH");
    for (const std::string& path : catalogs) {
        if (!json && catalogs.size() > 1) std::printf("# %s\n", path.c_str());
        const catalog::Catalog cat = catalog::Catalog::open_reader(path);
        for (const catalog::Volume& v : cat.volumes()) {
            const auto totals = cat.volume_totals(v.id);
            const std::string ro = read_only_now(v);
            if (json) {
                j["volumes"].push_back({{"catalog", path}, {"id", v.id}, {"subvol_id", v.subvol_id}, {"path", v.path},
                                        {"read_only", ro == "yes" ? nlohmann::json(true) : ro == "no" ? nlohmann::json(false) : nlohmann::json(nullptr)},
                                        {"state", scan_state_name(v.scan_state)}, {"last_generation", v.last_generation},
                                        {"files", totals.files}, {"bytes", totals.bytes}});
            } else {
                std::printf("%4lld %8llu %3s %-11s %10llu %10llu %10s  %s\n", static_cast<long long>(v.id),
                            static_cast<unsigned long long>(v.subvol_id), ro.c_str(), scan_state_name(v.scan_state),
                            static_cast<unsigned long long>(v.last_generation),
                            static_cast<unsigned long long>(totals.files), iec_bytes(totals.bytes).c_str(), v.path.c_str());
            }
        }
    }
    if (json) print_json_line(std::cout, j);
    return to_int(ExitCode::Done);
}

}  // namespace rdd::cli
