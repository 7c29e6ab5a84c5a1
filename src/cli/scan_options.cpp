#include "scan_options.hpp"

#include <boost/program_options.hpp>
#include <iostream>

#include "format.hpp"
#include "output.hpp"
#include "parse_units.hpp"
#include "reflinkdedup/app/exit_codes.hpp"
#include "reflinkdedup/app/input_error.hpp"
#include "reflinkdedup/catalog/errors.hpp"
#include "usage_error.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

void add_scan_options(po::options_description& opts, ScanOptionValues& v) {
    opts.add_options()
        ("db", po::value(&v.db), "catalog file (default: per filesystem under /var/lib/reflinkdedup)")
        ("block-size", po::value(&v.block_size), "digest block size for a new catalog (multiple of 4K; default 4K)")
        ("reset-block-size", po::bool_switch(&v.reset_block_size), "adopt --block-size on a catalog built with another one, dropping its digests")
        ("min-size", po::value(&v.min_size), "ignore files smaller than this (default 1: skip empty files)")
        ("exclude", po::value(&v.excludes), "skip matching files and directories (repeatable; '*.tmp', '/anchored/dir', 'a/b')")
        ("wait", po::value(&v.wait), "wait this long for another run to release the catalog (e.g. 30s, 10m; default 0)")
        ("io", po::value(&v.io), "read engine: auto, io_uring or pread (default auto)")
        ("rehash", po::bool_switch(&v.rehash), "read and hash every file again, changed or not")
        ("recursive,r", po::bool_switch(&v.recursive), "btrfs: also every subvolume and snapshot below the paths")
        ("ro-snapshots", po::value(&v.ro_snapshots)->default_value("source-only"),
         "btrfs read-only snapshots: source-only (scanned, used as sources, never modified), skip, or dedupe")
        ("walk", po::bool_switch(&v.walk), "btrfs: look at every file each run instead of asking the tree what changed (works without root)");
}

ScanOptions make_scan_options(const ScanOptionValues& v, std::vector<std::string> roots, std::string_view command) {
    const std::string cmd(command);
    auto value = [&](const auto& parsed_value, const char* option, const std::string& text) {
        if (!parsed_value) throw UsageError(cmd + ": invalid value '" + text + "' for " + option);
        return *parsed_value;
    };
    ScanOptions o;
    o.roots = std::move(roots);
    o.catalog_path = v.db;
    if (!v.block_size.empty()) {
        const std::uint64_t bs = value(parse_size(v.block_size), "--block-size", v.block_size);
        if (bs == 0 || bs % 4096 != 0 || bs > (64u << 20)) {
            throw UsageError(cmd + ": --block-size must be a multiple of 4K, at most 64M");
        }
        o.block_size = static_cast<std::uint32_t>(bs);
    }
    if (v.reset_block_size && v.block_size.empty()) throw UsageError(cmd + ": --reset-block-size needs --block-size");
    o.reset_on_block_size_change = v.reset_block_size;
    o.min_size = value(parse_size(v.min_size), "--min-size", v.min_size);
    o.wait = value(parse_duration(v.wait), "--wait", v.wait);
    o.excludes = v.excludes;
    o.rehash = v.rehash;
    o.recursive = v.recursive;
    o.walk = v.walk;
    try {
        o.ro_snapshots = parse_ro_snapshots(v.ro_snapshots);
    } catch (const std::invalid_argument& e) {
        throw UsageError(cmd + ": " + e.what());
    }
    if (v.io == "pread") o.engine = hash::EngineChoice::Pread;
    else if (v.io == "io_uring") o.engine = hash::EngineChoice::IoUring;
    else if (v.io != "auto") throw UsageError(cmd + ": --io must be auto, io_uring or pread");
    return o;
}

ScanProgressCallback scan_progress(ProgressLine& line) {
    return [&line](const ScanProgress& p) {
        line.update(std::to_string(p.files_seen) + " files seen, " + std::to_string(p.files_hashed) + " hashed, " +
                        iec_bytes(p.bytes_read) + " read",
                    p.bytes_read, p.walk_done ? p.bytes_queued : 0);
    };
}

int with_catalog_errors(const std::function<int()>& body) {
    try {
        return body();
    } catch (const catalog::WriterLockTimeoutError& e) {
        log_error(e.what());
        return to_int(ExitCode::CatalogBusy);
    } catch (const catalog::SchemaTooNewError& e) {
        throw InputError(e.what());
    } catch (const catalog::BlockSizeMismatchError& e) {
        throw InputError(std::string(e.what()) + " (pass --block-size with --reset-block-size to rebuild)");
    } catch (const std::invalid_argument& e) {
        throw InputError(e.what());
    }
}

nlohmann::json scan_report_json(const ScanReport& r) {
    nlohmann::json j;
    j["command"] = "scan-vol";
    j["catalog"] = r.catalog_path;
    j["filesystem"] = r.filesystem;
    j["engine"] = r.engine;
    j["block_size"] = r.block_size;
    j["files_seen"] = r.files_seen;
    j["files_hashed"] = r.files_hashed;
    j["files_unchanged"] = r.files_unchanged;
    j["files_deleted"] = r.files_deleted;
    j["bytes_read"] = r.bytes_read;
    j["bytes_hashed"] = r.bytes_hashed;
    j["bytes_reused"] = r.bytes_reused;
    j["elapsed_s"] = r.elapsed_s;
    j["catalog_bytes"] = r.catalog_bytes;
    j["skipped"] = r.skipped;
    j["error_count"] = r.error_count;
    j["errors"] = r.errors;
    j["interrupted"] = r.interrupted;
    j["subvolumes_deleted"] = r.subvolumes_deleted;
    nlohmann::json volumes = nlohmann::json::array();
    for (const VolumeScanResult& v : r.volumes) {
        volumes.push_back({{"path", v.path},
                           {"subvol", v.subvol},
                           {"read_only", v.read_only},
                           {"mode", v.mode},
                           {"since_generation", v.since_generation},
                           {"generation", v.generation},
                           {"inodes_changed", v.inodes_changed},
                           {"deletions_reconciled", v.deletions_reconciled},
                           {"files_deleted", v.files_deleted}});
    }
    j["volumes"] = std::move(volumes);
    return j;
}

void print_scan_text(std::ostream& out, const ScanReport& r) {
    out << r.files_seen << " files on " << r.filesystem << " in " << r.elapsed_s << " s"
        << (r.interrupted ? " (interrupted)" : "") << "\n"
        << "  hashed     " << r.files_hashed << " files, " << iec_bytes(r.bytes_hashed) << " ("
        << iec_bytes(r.bytes_read) << " read, " << iec_bytes(r.bytes_reused) << " kept, " << r.engine << ")\n"
        << "  unchanged  " << r.files_unchanged << " files (not read)\n"
        << "  removed    " << r.files_deleted << " files that are gone\n"
        << "  catalog    " << printable(r.catalog_path) << ", " << iec_bytes(r.catalog_bytes) << ", "
        << iec_bytes(std::uint64_t{r.block_size}) << " blocks\n";
    for (const VolumeScanResult& v : r.volumes) {
        out << "  volume     " << printable(v.path) << (v.read_only ? " (read-only)" : "") << ": " << v.mode;
        if (v.mode == "incremental") {
            out << " since generation " << v.since_generation << ", " << v.inodes_changed << " changed files"
                << (v.deletions_reconciled ? ", deletions checked" : "");
        }
        out << "\n";
    }
    for (const auto& [reason, n] : r.skipped) out << "  skipped    " << n << " " << reason << "\n";
    for (const auto& e : r.errors) out << "  error      " << printable(e) << "\n";
    if (r.error_count > r.errors.size()) out << "  ... and " << r.error_count - r.errors.size() << " more errors\n";
}

}  // namespace rdd::cli
