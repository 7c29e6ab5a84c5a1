#include <boost/program_options.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "command_line.hpp"
#include "format.hpp"
#include "parse_units.hpp"
#include "progress_line.hpp"
#include "reflinkdedup/app/exit_codes.hpp"
#include "reflinkdedup/app/input_error.hpp"
#include "reflinkdedup/app/interrupt.hpp"
#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/scan/scan_volumes.hpp"
#include "usage_error.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

namespace {

constexpr const char* kHelp = R"(Usage: reflinkdedup scan-vol [OPTIONS] PATH...

Record every regular file under each PATH (directories on one btrfs or XFS-with-reflink
filesystem) in that filesystem's catalog, with XXH3-128 digests of its blocks. A file is read
again only when its (inode, generation, size, mtime) changed, or its ctime changed and its
blocks no longer lie where they were (a rename or chmod costs no read); holes are never read.
Files that are gone leave the catalog. Symlinks are never followed; other filesystems, btrfs
subvolumes below PATH and special files are not entered.

The catalog (SQLite, mode 0600) is /var/lib/reflinkdedup/<filesystem-uuid>.sqlite unless
--db says otherwise. One process writes it at a time.

Exit status:
  0  done
  1  done, but some files could not be read (listed)
  2  usage or input error (bad option, not btrfs/XFS with reflink, paths on different
     filesystems, catalog from a newer version or with another block size)
  3  another reflinkdedup holds the catalog (after --wait)
  4  interrupted (SIGINT/SIGTERM); what was hashed is kept, deletions wait for a full scan
  5  an unexpected system error, or a damaged catalog

Examples:
  reflinkdedup scan-vol /mnt/backup
  reflinkdedup scan-vol --exclude '*.tmp' --exclude /proc --min-size 64K --json /srv

Options)";

nlohmann::json to_json(const ScanReport& r) {
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
    return j;
}

void print_text(std::ostream& out, const ScanReport& r) {
    out << r.files_seen << " files on " << r.filesystem << " in " << r.elapsed_s << " s"
        << (r.interrupted ? " (interrupted)" : "") << "\n"
        << "  hashed     " << r.files_hashed << " files, " << iec_bytes(r.bytes_hashed) << " ("
        << iec_bytes(r.bytes_read) << " read, " << iec_bytes(r.bytes_reused) << " kept, " << r.engine << ")\n"
        << "  unchanged  " << r.files_unchanged << " files (not read)\n"
        << "  removed    " << r.files_deleted << " files that are gone\n"
        << "  catalog    " << r.catalog_path << ", " << iec_bytes(r.catalog_bytes) << ", "
        << iec_bytes(std::uint64_t{r.block_size}) << " blocks\n";
    for (const auto& [reason, n] : r.skipped) out << "  skipped    " << n << " " << reason << "\n";
    for (const auto& e : r.errors) out << "  error      " << e << "\n";
    if (r.error_count > r.errors.size()) out << "  ... and " << r.error_count - r.errors.size() << " more errors\n";
}

template <typename T>
T parsed(const std::optional<T>& v, const std::string& option, const std::string& text) {
    if (!v) throw UsageError("scan-vol: invalid value '" + text + "' for " + option);
    return *v;
}

}  // namespace

int run_scan_vol(const std::vector<std::string>& args) {
    po::options_description opts(kHelp);
    bool json = false, reset_block_size = false, rehash = false;
    std::string db, block_size, min_size = "1", wait = "0", io = "auto";
    std::vector<std::string> excludes;
    opts.add_options()
        ("help,h", "show this help")
        ("db", po::value(&db), "catalog file (default: per filesystem under /var/lib/reflinkdedup)")
        ("block-size", po::value(&block_size), "digest block size for a new catalog (multiple of 4K; default 64K)")
        ("reset-block-size", po::bool_switch(&reset_block_size), "adopt --block-size on a catalog built with another one, dropping its digests")
        ("min-size", po::value(&min_size), "ignore files smaller than this (default 1: skip empty files)")
        ("exclude", po::value(&excludes), "skip matching files and directories (repeatable; '*.tmp', '/anchored/dir', 'a/b')")
        ("wait", po::value(&wait), "wait this long for another run to release the catalog (e.g. 30s, 10m; default 0)")
        ("io", po::value(&io), "read engine: auto, io_uring or pread (default auto)")
        ("rehash", po::bool_switch(&rehash), "read and hash every file again, changed or not")
        ("json", po::bool_switch(&json), "print one JSON object instead of the summary");
    const auto operands = parse_command_line("scan-vol", args, opts);
    if (!operands) return to_int(ExitCode::Done);
    ScanOptions o;
    o.roots = *operands;
    if (o.roots.empty()) throw UsageError("scan-vol: needs at least one PATH");
    o.catalog_path = db;
    if (!block_size.empty()) {
        const std::uint64_t bs = parsed(parse_size(block_size), "--block-size", block_size);
        if (bs == 0 || bs % 4096 != 0 || bs > (64u << 20)) {
            throw UsageError("scan-vol: --block-size must be a multiple of 4K, at most 64M");
        }
        o.block_size = static_cast<std::uint32_t>(bs);
    }
    if (reset_block_size && block_size.empty()) throw UsageError("scan-vol: --reset-block-size needs --block-size");
    o.reset_on_block_size_change = reset_block_size;
    o.min_size = parsed(parse_size(min_size), "--min-size", min_size);
    o.wait = parsed(parse_duration(wait), "--wait", wait);
    o.excludes = excludes;
    o.rehash = rehash;
    if (io == "pread") o.engine = hash::EngineChoice::Pread;
    else if (io == "io_uring") o.engine = hash::EngineChoice::IoUring;
    else if (io != "auto") throw UsageError("scan-vol: --io must be auto, io_uring or pread");

    const InterruptGuard guard;
    o.stop = [] { return interrupt_requested(); };
    ScanReport report;
    try {
        ProgressLine line;
        report = scan_volumes(o, [&](const ScanProgress& p) {
            line.update(std::to_string(p.files_seen) + " files seen, " + std::to_string(p.files_hashed) +
                            " hashed, " + iec_bytes(p.bytes_read) + " read",
                        p.bytes_read, p.walk_done ? p.bytes_queued : 0);
        });
    } catch (const catalog::WriterLockTimeoutError& e) {
        std::cerr << "reflinkdedup: " << e.what() << "\n";
        return to_int(ExitCode::CatalogBusy);
    } catch (const catalog::SchemaTooNewError& e) {
        throw InputError(e.what());
    } catch (const catalog::BlockSizeMismatchError& e) {
        throw InputError(std::string(e.what()) + " (pass --block-size with --reset-block-size to rebuild)");
    } catch (const std::invalid_argument& e) {
        throw InputError(e.what());
    }
    if (json) {
        std::cout << to_json(report).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
        print_text(std::cout, report);
    }
    if (report.interrupted) return to_int(ExitCode::Interrupted);
    return to_int(report.error_count > 0 ? ExitCode::Partial : ExitCode::Done);
}

}  // namespace rdd::cli
