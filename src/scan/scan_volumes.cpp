#include "reflinkdedup/scan/scan_volumes.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <limits>
#include <set>

#include "catalog_sink.hpp"
#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/inode_scan.hpp"
#include "reflinkdedup/btrfs/paths.hpp"
#include "reflinkdedup/btrfs/subvolume.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/write_batch.hpp"
#include "reflinkdedup/fs/filesystem.hpp"
#include "reflinkdedup/fs/regular_file.hpp"
#include "root_scan.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

FilesystemInfo probe_root(const std::string& root) {
    const UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        // What the user typed is wrong (exit 2), not the system.
        if (errno == ENOENT || errno == ENOTDIR || errno == EACCES || errno == ELOOP) {
            throw std::invalid_argument(root + ": " + (errno == ENOTDIR ? std::string("not a directory")
                                                                        : errno_text(errno)));
        }
        throw_errno("open directory", root);
    }
    return probe_filesystem(fd.get(), root);
}

// One root (a btrfs subvolume or a directory tree) scanned into the catalog.

// One directory to scan: a btrfs subvolume root, or any directory.
struct Target {
    std::string path;  // canonical
    bool read_only = false;
};

// The roots, and with --recursive every subvolume below them, parents first, each once.
std::vector<Target> expand_roots(const ScanOptions& opt, const FilesystemInfo& fs) {
    std::vector<Target> targets;
    std::set<std::string> seen;
    auto add = [&](const std::string& path) {
        const std::string abs = fs::canonical(path).string();
        if (!seen.insert(abs).second) return;
        Target t{abs, false};
        if (fs.type == FsType::Btrfs) {
            const UniqueFd fd(::open(abs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!fd) throw_errno("open directory", abs);
            t.read_only = in_read_only_subvolume(fd.get(), abs);
        }
        targets.push_back(std::move(t));
    };
    for (const std::string& root : opt.roots) {
        add(root);
        if (fs.type != FsType::Btrfs || !opt.recursive) continue;
        const auto subvolumes = btrfs::list_subvolumes(root);
        // The first entry is the subvolume containing `root` (maybe above it): not ours to scan.
        for (std::size_t i = 1; i < subvolumes.size(); ++i) add(subvolumes[i].absolute_path.string());
    }
    return targets;
}

// What an incremental pass depends on besides the data: with other excludes or another
// minimum size, the files in the catalog are not the ones a full pass would find.
std::string settings_fingerprint(const ScanOptions& opt) {
    std::string s = "min_size=" + std::to_string(opt.min_size);
    for (const std::string& e : opt.excludes) s += "\nexclude=" + e;
    return s;
}

// Tree search, the incremental scan's tool, needs CAP_SYS_ADMIN: ask once, up front, so that a
// user without it learns what to do instead of getting a half-done scan.
void require_tree_search(int fd, const std::string& path) {
    try {
        btrfs::InodeScan probe(fd, std::numeric_limits<std::uint64_t>::max(), path);
        (void)probe.next();
    } catch (const btrfs::NeedsRootError&) {
        throw std::invalid_argument(path + ": scanning btrfs needs CAP_SYS_ADMIN (tree search finds what changed "
                                           "since the last run); run as root, or pass --walk to look at every "
                                           "file on each run instead");
    }
}

// Catalogued subvolumes that no longer exist take their rows with them.
std::uint64_t forget_deleted_subvolumes(catalog::Catalog& cat, int fs_fd, const std::string& where) {
    std::uint64_t forgotten = 0;
    for (const catalog::Volume& v : cat.volumes()) {
        if (v.subvol_id == 0 || btrfs::subvolume_exists(fs_fd, v.subvol_id, where)) continue;
        (void)cat.forget_volume(v.id);
        ++forgotten;
    }
    return forgotten;
}

}  // namespace

RoSnapshots parse_ro_snapshots(const std::string& text) {
    if (text == "source-only") return RoSnapshots::source_only;
    if (text == "skip") return RoSnapshots::skip;
    if (text == "dedupe") return RoSnapshots::dedupe;
    throw std::invalid_argument("--ro-snapshots: expected source-only, skip or dedupe, not '" + text + "'");
}

const char* to_string(RoSnapshots policy) noexcept {
    switch (policy) {
        case RoSnapshots::source_only: return "source-only";
        case RoSnapshots::skip: return "skip";
        case RoSnapshots::dedupe: return "dedupe";
    }
    return "?";
}


std::string default_catalog_path(const std::string& fs_uuid) {
    return "/var/lib/reflinkdedup/" + fs_uuid + ".sqlite";
}

std::string default_catalog_for(const std::string& path) {
    const FilesystemInfo fs = probe_root(path);
    if (!fs.can_share) throw std::invalid_argument(cannot_share_message(path, fs));
    if (fs.uuid.empty()) throw std::invalid_argument(path + ": the filesystem has no UUID the kernel tells; pass --db PATH");
    return default_catalog_path(fs.uuid);
}

ScanReport scan_volumes(const ScanOptions& opt, const ScanProgressCallback& progress) {
    const auto started = Clock::now();
    ScanReport report;
    if (opt.roots.empty()) throw std::invalid_argument("scan-vol needs at least one path");
    const FilesystemInfo fs = probe_root(opt.roots.front());
    report.filesystem = fs.type_name;
    for (const std::string& r : opt.roots) {
        const FilesystemInfo other = probe_root(r);
        if (!other.can_share) throw std::invalid_argument(cannot_share_message(r, other));
        if (other.id != fs.id) throw std::invalid_argument(r + ": on another filesystem than " + opt.roots.front());
    }
    report.catalog_path = opt.catalog_path.empty() ? default_catalog_path(fs.uuid) : opt.catalog_path;
    if (report.catalog_path.empty() || (opt.catalog_path.empty() && fs.uuid.empty())) {
        throw std::invalid_argument(opt.roots.front() + ": the filesystem has no UUID the kernel tells; pass --db PATH");
    }
    const bool btrfs_fs = fs.type == FsType::Btrfs;
    const UniqueFd fs_fd(::open(opt.roots.front().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fs_fd) throw_errno("open directory", opt.roots.front());
    if (btrfs_fs && !opt.walk) require_tree_search(fs_fd.get(), opt.roots.front());
    std::vector<Target> targets;
    try {
        targets = expand_roots(opt, fs);
    } catch (const btrfs::NeedsRootError& e) {
        throw std::invalid_argument(std::string(e.what()) + " (--recursive lists subvolumes)");
    }

    catalog::OpenOptions copt;
    copt.block_size = opt.block_size;
    copt.reset_on_block_size_change = opt.reset_on_block_size_change;
    copt.lock_timeout = opt.wait;
    // Not only for a missing catalog: one whose creation was killed has no block size either.
    if (copt.block_size == 0) copt.new_block_size = kDefaultScanBlockSize;
    catalog::Catalog cat = catalog::Catalog::open_writer(report.catalog_path, copt);
    report.block_size = cat.block_size();
    if (btrfs_fs && !opt.walk) report.subvolumes_deleted = forget_deleted_subvolumes(cat, fs_fd.get(), opt.roots.front());

    hash::HasherOptions hopt;
    hopt.block_size = cat.block_size();
    hopt.engine = opt.engine;
    const std::string settings = settings_fingerprint(opt);
    for (const Target& target : targets) {
        VolumeScanResult result;
        result.path = target.path;
        result.read_only = target.read_only;
        if (target.read_only && opt.ro_snapshots == RoSnapshots::skip) {
            result.mode = "skipped";
            ++report.skipped["read-only snapshot (--ro-snapshots=skip)"];
            report.volumes.push_back(std::move(result));
            continue;
        }
        const UniqueFd root_fd(::open(target.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!root_fd && errno == ENOENT) {
            // Listed at the start, gone now (a snapshot rotated away meanwhile): that volume
            // only, like a file that vanishes; the next run forgets it.
            result.mode = "skipped";
            ++report.error_count;
            if (report.errors.size() < 100) report.errors.push_back(target.path + ": vanished during the scan");  // as CatalogSink's
            report.volumes.push_back(std::move(result));
            continue;
        }
        if (!root_fd) throw_errno("open directory", target.path);
        std::uint64_t subvol = 0, generation = 0;
        bool subvol_root = false;
        if (btrfs_fs) {
            subvol = btrfs::subvolume_id(root_fd.get(), target.path);
            subvol_root = btrfs::is_subvolume_root(root_fd.get(), target.path);
            generation = btrfs::committed_generation(root_fd.get(), target.path);  // G before we look
        }
        result.subvol = subvol_root ? subvol : 0;
        const catalog::VolumeId volume = cat.add_volume(subvol_root ? subvol : 0, target.path);
        const auto previous = cat.volume(volume);
        // Incremental when the last complete pass recorded a generation under the same settings
        // (an interrupted pass since then keeps it: everything newer is looked at again).
        const bool incremental = btrfs_fs && subvol_root && !opt.walk && !opt.rehash && previous &&
                                 previous->last_generation > 0 && cat.scan_settings(volume) == settings;
        const catalog::Epoch epoch = cat.begin_pass(volume);
        bool complete = false;
        std::uint64_t replaced = 0;
        {
            catalog::WriteBatch batch(cat, epoch);
            CatalogSink sink(batch, cat.block_size(), report);
            hash::Hasher hasher(sink, hopt);
            report.engine = std::string(hash::to_string(hasher.engine()));
            RootScan scan(cat, fs, opt, progress, report, hasher, sink, batch, epoch);
            if (incremental) {
                result.mode = "incremental";
                result.since_generation = previous->last_generation;
                complete = scan.incremental(root_fd.get(), target.path, volume, subvol, previous->last_generation, result);
            } else {
                result.mode = "full";
                complete = scan.walk(target.path, volume, subvol);
                if (complete && btrfs_fs && subvol_root && !opt.walk) scan.record_directories(root_fd.get(), target.path);
            }
            hasher.finish();
            batch.commit();
            report.bytes_reused += sink.bytes_reused();
            replaced = batch.stale_generations_deleted();
        }
        // A gone file whose inode number a new one took (XFS hands freed numbers out again)
        // lost its row when the new file was catalogued: delete_unseen cannot count it.
        result.files_deleted += replaced;
        report.files_deleted += replaced;
        if (complete) {
            if (!incremental) {
                const std::uint64_t unseen = cat.delete_unseen(volume, epoch);
                result.files_deleted += unseen;
                report.files_deleted += unseen;
            }
            cat.finish_pass(volume, generation, catalog::ScanState::complete);
            cat.set_scan_settings(volume, settings);
            result.generation = generation;
            report.volumes.push_back(std::move(result));
        } else {
            report.interrupted = true;
            cat.finish_pass(volume, 0, catalog::ScanState::interrupted);
            result.mode = "interrupted";
            report.volumes.push_back(std::move(result));
            break;
        }
    }
    cat.checkpoint();
    for (const char* suffix : {"", "-wal"}) {
        std::error_code ec;
        const auto n = fs::file_size(report.catalog_path + suffix, ec);
        if (!ec) report.catalog_bytes += n;
    }
    report.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
    return report;
}

}  // namespace rdd
