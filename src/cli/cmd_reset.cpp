#include <boost/program_options.hpp>
#include <algorithm>
#include <optional>
#include <filesystem>
#include <iostream>

#include "command.hpp"
#include "command_line.hpp"
#include "reflinkdedup/app/exit_codes.hpp"
#include "reflinkdedup/app/input_error.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/errors.hpp"
#include "output.hpp"
#include "usage_error.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

namespace {

constexpr const char* kHelp = R"(Usage: reflinkdedup reset [--db PATH] VOL...
       reflinkdedup reset --all [--db PATH] [PATH]

Forget what the catalog knows about each VOL (a volume path as 'show-vols' prints it, or its
id): its files, their digests and its scan state, so the next scan-vol reads it in full.
--all forgets every volume of the catalog (its block size and settings stay). The catalog is
--db, or the one of the filesystem holding VOL / PATH. Files on disk are never touched.

Exit status:
  0  done
  2  usage or input error (unknown volume, no catalog)
  3  another reflinkdedup holds the catalog
  5  an unexpected system error, or a damaged catalog

Examples:
  reflinkdedup reset /mnt/backup/host1           # a volume as show-vols lists it
  reflinkdedup reset --db /var/lib/reflinkdedup/0c5b...e1.sqlite 3
  reflinkdedup reset --all /mnt/backup

Options)";

}  // namespace

int run_reset(const std::vector<std::string>& args) {
    po::options_description opts(kHelp);
    std::string db;
    bool all = false;
    opts.add_options()("help,h", "show this help")("db", po::value(&db), "catalog file")(
        "all", po::bool_switch(&all), "forget every volume");
    const auto operands = parse_command_line("reset", args, opts);
    if (!operands) return to_int(ExitCode::Done);
    if (!all && operands->empty()) throw UsageError("reset: name a volume, or --all");
    const std::string path = catalog_from_options(db, *operands, "reset");
    if (!std::filesystem::exists(path)) throw InputError(path + ": no catalog yet");
    std::optional<catalog::Catalog> cat;
    try {
        cat.emplace(catalog::Catalog::open_writer(path, catalog::OpenOptions{}));
    } catch (const catalog::WriterLockTimeoutError& e) {
        log_error(e.what());
        return to_int(ExitCode::CatalogBusy);
    }
    if (all) {
        cat->reset();
        std::cout << "forgot every volume of " << path << "\n";
        return to_int(ExitCode::Done);
    }
    const auto volumes = cat->volumes();
    for (const std::string& name : *operands) {
        const std::string canonical = std::filesystem::weakly_canonical(name).string();
        const auto it = std::find_if(volumes.begin(), volumes.end(), [&](const catalog::Volume& v) {
            return v.path == name || v.path == canonical || std::to_string(v.id) == name;
        });
        if (it == volumes.end()) throw InputError(name + ": not a volume of " + path + " (see show-vols)");
        const std::uint64_t files = cat->forget_volume(it->id);
        std::cout << "forgot " << it->path << " (" << files << " files)\n";
    }
    return to_int(ExitCode::Done);
}

}  // namespace rdd::cli
