#include "reflinkdedup/scan/scan_volumes.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>

#include "catalog_sink.hpp"
#include "reflinkdedup/btrfs/subvolume.hpp"
#include "reflinkdedup/btrfs/paths.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/write_batch.hpp"
#include "reflinkdedup/fs/fiemap.hpp"
#include "reflinkdedup/fs/filesystem.hpp"
#include "reflinkdedup/fs/regular_file.hpp"
#include "reflinkdedup/fs/tree_walk.hpp"
#include "reflinkdedup/scan/path_filter.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::int64_t ns(const timespec& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

const char* skip_reason(WalkSkipKind k) {
    switch (k) {
        case WalkSkipKind::Excluded: return "excluded";
        case WalkSkipKind::OtherFilesystem: return "other filesystem or subvolume";
        case WalkSkipKind::Symlink: return "symlink";
        case WalkSkipKind::Special: return "special file";
        case WalkSkipKind::Vanished: return "vanished during the scan";
        case WalkSkipKind::Unreadable: return "unreadable";
    }
    return "other";
}

UniqueFd open_walked(const WalkedFile& f) {
    constexpr int base = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    const std::string name(f.name);
    int fd = ::openat(f.dir_fd, name.c_str(), base | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::openat(f.dir_fd, name.c_str(), base);
    return UniqueFd(fd);
}

// Whether every catalogued block of a file still lies where it lay when it was hashed: data
// blocks at the same physical address, zero blocks still holes. Copy-on-write never rewrites a
// block where it is, so an unchanged layout means unchanged data even when the ctime moved
// (rename, chmod, xattrs). Any doubt answers false: the file is read again.
bool layout_unchanged(const catalog::Catalog& cat, catalog::FileId id, const std::vector<Extent>& extents,
                      std::uint64_t size, std::uint32_t block_size) {
    BlockAddresses addresses(extents, size, block_size);
    const auto holes = hole_blocks(extents, size, block_size);
    std::size_t h = 0;
    auto in_hole = [&](std::uint64_t i) {
        while (h < holes.size() && holes[h].first + holes[h].count <= i) ++h;
        return h < holes.size() && holes[h].first <= i;
    };
    bool same = true;
    std::uint64_t next = 0;
    (void)cat.for_each_block(id, [&](const catalog::Block& b) {
        same = b.index == next++ &&
               (b.zero ? in_hole(b.index) : b.physical != 0 && addresses.physical(b.index) == b.physical);
        return same;
    });
    return same && next == (size + block_size - 1) / block_size;
}

// Blocks of a changed file that btrfs cannot have rewritten: a full block that lies, whole, at
// the same physical address as when it was hashed (copy-on-write never writes over data in
// place; NOCOW files are not scanned). Their digests are kept and the blocks are not read.
// Only on btrfs: XFS overwrites unshared blocks in place.
std::vector<KnownBlock> reusable_blocks(const catalog::Catalog& cat, const catalog::FileRow& old,
                                        const std::vector<Extent>& extents, std::uint64_t size,
                                        std::uint32_t block_size) {
    std::vector<KnownBlock> known;
    BlockAddresses addresses(extents, size, block_size);
    const std::uint64_t full_then = old.size / block_size, full_now = size / block_size;
    (void)cat.for_each_block(old.id, [&](const catalog::Block& b) {
        if (b.index >= full_then || b.index >= full_now) return false;  // partial blocks differ
        if (!b.zero && b.physical != 0 && addresses.physical(b.index) == b.physical) {
            known.push_back({b.index, hash::Digest128{b.digest.hi, b.digest.lo}, b.physical});
        }
        return true;
    });
    return known;
}

// Whether a catalogued file is, on disk, still the version whose blocks were hashed: same inode,
// size, mtime and ctime at its recorded path. Its digests then describe its disk bytes, and
// blocks another file shares with it hold those bytes (btrfs never writes data in place; XFS
// copies a shared block before writing it).
bool unchanged_since_hashed(const catalog::Catalog& cat, const catalog::FileRow& row) {
    const auto volume = cat.volume(row.volume);
    if (!volume) return false;
    struct stat st {};
    const std::string path = volume->path + "/" + row.path;
    return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == row.identity.ino &&
           static_cast<std::uint64_t>(st.st_size) == row.size && ns(st.st_mtim) == row.mtime_ns &&
           ns(st.st_ctim) == row.ctime_ns;
}

// Full blocks in extents the filesystem says are shared, whose catalogued twin (the same disk
// bytes, recorded for another file that has not changed since) already has a digest: a reflink
// copy or a snapshot of a catalogued file is not read. Blocks in `already` are left out.
std::vector<KnownBlock> blocks_shared_with_catalogued(const catalog::Catalog& cat, const std::vector<Extent>& extents,
                                                      std::uint64_t size, std::uint32_t block_size,
                                                      const std::vector<KnownBlock>& already) {
    std::vector<KnownBlock> found;
    std::map<catalog::FileId, bool> fresh;  // twin file -> unchanged since hashed (asked once)
    const std::uint64_t full = size / block_size;
    std::size_t a = 0;
    for (const Extent& e : extents) {
        if (!e.shared || !e.has_address() || e.encoded || e.unwritten) continue;
        for (std::uint64_t i = (e.logical + block_size - 1) / block_size;
             i < full && (i + 1) * block_size <= e.end(); ++i) {
            while (a < already.size() && already[a].index < i) ++a;
            if (a < already.size() && already[a].index == i) continue;
            const std::uint64_t phys = e.physical + (i * block_size - e.logical);
            const auto twin = cat.block_at_physical(phys);
            if (!twin) continue;
            auto [it, added] = fresh.try_emplace(twin->first, false);
            if (added) {
                const auto row = cat.file(twin->first);
                it->second = row && unchanged_since_hashed(cat, *row);
            }
            if (!it->second) continue;
            const catalog::Digest& d = twin->second.digest;
            found.push_back({i, hash::Digest128{d.hi, d.lo}, phys});
        }
    }
    return found;
}

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
class RootScan {
public:
    RootScan(catalog::Catalog& cat, const FilesystemInfo& fs, const ScanOptions& opt,
             const ScanProgressCallback& progress, ScanReport& report, hash::Hasher& hasher,
             CatalogSink& sink, catalog::WriteBatch& batch, catalog::Epoch epoch)
        : cat_(cat), fs_(fs), opt_(opt), progress_(progress), report_(report), hasher_(hasher),
          sink_(sink), batch_(batch), epoch_(epoch), filter_(opt.excludes) {}
    ~RootScan() { sink_.on_progress({}); }  // the sink outlives us
    RootScan(const RootScan&) = delete;
    RootScan& operator=(const RootScan&) = delete;

    // Returns false when stopped early.
    bool run(const std::string& root, catalog::VolumeId volume, std::uint64_t subvol) {
        volume_ = volume;
        subvol_ = subvol;
        WalkCallbacks cb;
        cb.file = [&](const WalkedFile& f) { visit(f); };
        cb.skipped = [&](std::string_view, WalkSkipKind k, int) {
            if (k != WalkSkipKind::Symlink) ++report_.skipped[skip_reason(k)];
        };
        cb.excluded = [&](std::string_view rel) { return filter_.excluded(rel); };
        cb.stop = [&] { return stopped_ || (stopped_ = opt_.stop && opt_.stop()); };
        sink_.on_progress([this] { report_progress(false); });
        walk_tree(root, true, cb);
        walk_done_ = true;  // bytes_queued is final: the progress line can show an ETA
        return !stopped_;
    }

private:
    void visit(const WalkedFile& f) {
        ++report_.files_seen;
        report_progress(false);
        if (static_cast<std::uint64_t>(f.st.st_size) < opt_.min_size) {
            ++report_.skipped["smaller than --min-size"];
            return;
        }
        UniqueFd fd = open_walked(f);
        struct stat st {};
        if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_ino != f.st.st_ino || !S_ISREG(st.st_mode)) {
            ++report_.skipped["vanished during the scan"];
            return;
        }
        int generation = 0;
        if (::ioctl(fd.get(), FS_IOC_GETVERSION, &generation) != 0) throw_errno("FS_IOC_GETVERSION", std::string(f.relative));
        const catalog::FileIdentity id{subvol_, st.st_ino, static_cast<std::uint32_t>(generation)};
        if (fs_.type == FsType::Btrfs && (inode_flags(fd.get(), std::string(f.relative)) & FS_NOCOW_FL) != 0) {
            ++report_.skipped["NOCOW (cannot be shared)"];
            return;
        }
        const std::string rel(f.relative);
        const auto existing = cat_.find_file(id);
        // Already seen in this pass: a hard link (begin_file stamps the row with the epoch at
        // once, so this also holds for files still being hashed).
        if (existing && existing->seen_epoch == epoch_) return;
        if (existing && !opt_.rehash && existing->state == catalog::FileState::hashed &&
            existing->size == static_cast<std::uint64_t>(st.st_size) && existing->mtime_ns == ns(st.st_mtim)) {
            if (existing->ctime_ns == ns(st.st_ctim)) {
                batch_.touch_file(existing->id, volume_, rel);
                ++report_.files_unchanged;
                return;
            }
            const auto extents = read_fiemap(fd.get(), 0, existing->size, rel);
            if (layout_unchanged(cat_, existing->id, extents, existing->size, cat_.block_size())) {
                batch_.touch_file(existing->id, volume_, rel, ns(st.st_ctim));
                ++report_.files_unchanged;
                return;
            }
        }
        queue(std::move(fd), st, id, rel, existing);
    }

    void queue(UniqueFd fd, const struct stat& st, const catalog::FileIdentity& id, const std::string& rel,
               const std::optional<catalog::FileRow>& previous) {
        const auto size = static_cast<std::uint64_t>(st.st_size);
        QueuedFile q;
        q.path = rel;
        q.st = st;
        q.extents = read_fiemap(fd.get(), 0, size, rel);
        q.holes = hole_blocks(q.extents, size, cat_.block_size());
        // Memory for kept digests is capped (24 bytes a block); past it files are just read.
        constexpr std::size_t kMaxKnownBlocks = std::size_t{4} << 20;
        if (!opt_.rehash && sink_.known_blocks_held() < kMaxKnownBlocks) {
            if (fs_.type == FsType::Btrfs && previous && previous->state == catalog::FileState::hashed) {
                q.known = reusable_blocks(cat_, *previous, q.extents, size, cat_.block_size());
            }
            auto twins = blocks_shared_with_catalogued(cat_, q.extents, size, cat_.block_size(), q.known);
            if (!twins.empty()) {
                q.known.insert(q.known.end(), twins.begin(), twins.end());
                std::sort(q.known.begin(), q.known.end(),
                          [](const KnownBlock& x, const KnownBlock& y) { return x.index < y.index; });
            }
        }
        catalog::FileRecord rec;
        rec.identity = id;
        rec.volume = volume_;
        rec.size = size;
        rec.mtime_ns = ns(st.st_mtim);
        rec.ctime_ns = ns(st.st_ctim);
        rec.path = rel;
        rec.state = catalog::FileState::hashed;  // aborted to failed/busy_retry if reading fails
        q.id = batch_.begin_file(rec);

        hash::FileJob job;
        job.token = next_token_++;
        job.size = size;
        for (const BlockSpan& h : q.holes) job.skip.push_back({h.first, h.count});
        for (const KnownBlock& k : q.known) {
            if (!job.skip.empty() && job.skip.back().first + job.skip.back().count == k.index) {
                ++job.skip.back().count;
            } else {
                job.skip.push_back({k.index, 1});
            }
        }
        job.fd = std::move(fd);
        sink_.expect(job.token, std::move(q));
        bytes_queued_ += size;
        hasher_.submit(std::move(job));
    }

    void report_progress(bool force) {
        if (!progress_) return;
        const auto now = Clock::now();
        if (!force && now - last_progress_ < std::chrono::milliseconds(250)) return;
        last_progress_ = now;
        progress_(ScanProgress{report_.files_seen, report_.files_hashed, sink_.bytes_delivered(),
                               bytes_queued_, walk_done_});
    }

    catalog::Catalog& cat_;
    const FilesystemInfo& fs_;
    const ScanOptions& opt_;
    const ScanProgressCallback& progress_;
    ScanReport& report_;
    hash::Hasher& hasher_;
    CatalogSink& sink_;
    catalog::WriteBatch& batch_;
    catalog::Epoch epoch_;
    PathFilter filter_;
    catalog::VolumeId volume_ = 0;
    std::uint64_t subvol_ = 0;
    std::uint64_t next_token_ = 1;
    bool stopped_ = false;
    std::uint64_t bytes_queued_ = 0;
    bool walk_done_ = false;
    Clock::time_point last_progress_{};
};

}  // namespace

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

    catalog::OpenOptions copt;
    copt.block_size = opt.block_size;
    copt.reset_on_block_size_change = opt.reset_on_block_size_change;
    copt.lock_timeout = opt.wait;
    if (!fs::exists(report.catalog_path) && copt.block_size == 0) copt.block_size = kDefaultScanBlockSize;
    catalog::Catalog cat = catalog::Catalog::open_writer(report.catalog_path, copt);
    report.block_size = cat.block_size();

    hash::HasherOptions hopt;
    hopt.block_size = cat.block_size();
    hopt.engine = opt.engine;
    for (const std::string& root : opt.roots) {
        const UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!root_fd) throw_errno("open directory", root);
        std::uint64_t subvol = 0, generation = 0;
        bool subvol_root = false;
        if (fs.type == FsType::Btrfs) {
            subvol = btrfs::subvolume_id(root_fd.get(), root);
            subvol_root = btrfs::is_subvolume_root(root_fd.get(), root);
            generation = btrfs::committed_generation(root_fd.get(), root);  // G before we look
        }
        const std::string abs = fs::canonical(root).string();
        const catalog::VolumeId volume = cat.add_volume(subvol_root ? subvol : 0, abs);
        const catalog::Epoch epoch = cat.begin_pass(volume);
        bool complete = false;
        {
            catalog::WriteBatch batch(cat, epoch);
            CatalogSink sink(batch, cat.block_size(), report);
            hash::Hasher hasher(sink, hopt);
            report.engine = std::string(hash::to_string(hasher.engine()));
            RootScan scan(cat, fs, opt, progress, report, hasher, sink, batch, epoch);
            complete = scan.run(root, volume, subvol);
            hasher.finish();
            batch.commit();
            report.bytes_reused += sink.bytes_reused();
        }
        if (complete) {
            report.files_deleted += cat.delete_unseen(volume, epoch);
            cat.finish_pass(volume, generation, catalog::ScanState::complete);
        } else {
            report.interrupted = true;
            cat.finish_pass(volume, 0, catalog::ScanState::interrupted);
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
