#include "root_scan.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "file_reuse.hpp"
#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/inode_scan.hpp"
#include "reflinkdedup/btrfs/open_inode.hpp"
#include "reflinkdedup/btrfs/paths.hpp"
#include "reflinkdedup/fs/fiemap.hpp"
#include "reflinkdedup/fs/regular_file.hpp"
#include "reflinkdedup/fs/tree_walk.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

namespace {

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

constexpr std::size_t kMaxErrorsListed = 100;  // as CatalogSink's

// A file or directory that is there but cannot be opened (no permission, an I/O error) is an
// error, not a skip: it is listed and the exit status says some files could not be read.
bool unreadable_errno(int err) { return err == EACCES || err == EPERM || err == EIO; }

void record_unreadable(ScanReport& report, std::string_view rel, int err) {
    ++report.error_count;
    if (report.errors.size() < kMaxErrorsListed) {
        report.errors.push_back((rel.empty() ? std::string(".") : std::string(rel)) + ": " + errno_text(err));
    }
}

constexpr int kOpenFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

UniqueFd open_walked(const WalkedFile& f) {
    const std::string name(f.name);
    int fd = ::openat(f.dir_fd, name.c_str(), kOpenFlags | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::openat(f.dir_fd, name.c_str(), kOpenFlags);
    return UniqueFd(fd);
}

// A path below the subvolume root, resolved without following any symlink and without leaving
// the subvolume (another one is another mount-like boundary: RESOLVE_NO_XDEV).
UniqueFd open_beneath(int root_fd, const std::string& rel) {
    open_how how{};
    how.flags = static_cast<std::uint64_t>(kOpenFlags | O_NOATIME);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS;
    auto fd = static_cast<int>(::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how));
    if (fd < 0 && errno == EPERM) {
        how.flags = static_cast<std::uint64_t>(kOpenFlags);
        fd = static_cast<int>(::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how));
    }
    return UniqueFd(fd);
}

}  // namespace

RootScan::RootScan(catalog::Catalog& cat, const FilesystemInfo& fs, const ScanOptions& opt,
                   const ScanProgressCallback& progress, ScanReport& report, hash::Hasher& hasher,
                   CatalogSink& sink, catalog::WriteBatch& batch, catalog::Epoch epoch)
    : cat_(cat), fs_(fs), opt_(opt), progress_(progress), report_(report), hasher_(hasher), sink_(sink),
      batch_(batch), epoch_(epoch), filter_(opt.excludes) {}

RootScan::~RootScan() { sink_.on_progress({}); }  // the sink outlives us

bool RootScan::stop() { return stopped_ || (stopped_ = opt_.stop && opt_.stop()); }

bool RootScan::walk(const std::string& root, catalog::VolumeId volume, std::uint64_t subvol) {
    volume_ = volume;
    subvol_ = subvol;
    WalkCallbacks cb;
    cb.file = [&](const WalkedFile& f) { visit(f); };
    cb.skipped = [&](std::string_view rel, WalkSkipKind k, int err) {
        if (k == WalkSkipKind::Unreadable) {
            record_unreadable(report_, rel, err);
        } else if (k != WalkSkipKind::Symlink) {
            ++report_.skipped[skip_reason(k)];
        }
    };
    cb.excluded = [&](std::string_view rel) { return filter_.excluded(rel); };
    cb.stop = [&] { return stop(); };
    sink_.on_progress([this] { report_progress(false); });
    walk_tree(root, true, cb);
    walk_done_ = true;  // bytes_queued is final: the progress line can show an ETA
    return !stopped_;
}

void RootScan::visit(const WalkedFile& f) {
    ++report_.files_seen;
    report_progress(false);
    if (static_cast<std::uint64_t>(f.st.st_size) < opt_.min_size) {
        ++report_.skipped["smaller than --min-size"];
        return;
    }
    UniqueFd fd = open_walked(f);
    if (!fd && unreadable_errno(errno)) return record_unreadable(report_, f.relative, errno);
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_ino != f.st.st_ino || !S_ISREG(st.st_mode)) {
        ++report_.skipped["vanished during the scan"];
        return;
    }
    int generation = 0;
    if (::ioctl(fd.get(), FS_IOC_GETVERSION, &generation) != 0) throw_errno("FS_IOC_GETVERSION", std::string(f.relative));
    examine(std::move(fd), st, static_cast<std::uint32_t>(generation), std::string(f.relative));
}

void RootScan::examine(UniqueFd fd, const struct stat& st, std::uint32_t generation, const std::string& rel) {
    const catalog::FileIdentity id{subvol_, st.st_ino, generation};
    // NOCOW files are catalogued (they can share with each other), but btrfs overwrites their
    // blocks in place: no shortcut that trusts an unchanged physical address applies to them.
    const bool nocow = fs_.type == FsType::Btrfs && (inode_flags(fd.get(), rel) & FS_NOCOW_FL) != 0;
    const auto existing = cat_.find_file(id);
    // Already seen in this pass: a hard link (begin_file stamps the row with the epoch at
    // once, so this also holds for files still being hashed).
    if (existing && existing->seen_epoch == epoch_) return;
    const auto expected_state = nocow ? catalog::FileState::nocow : catalog::FileState::hashed;
    if (existing && !opt_.rehash && existing->state == expected_state &&
        existing->size == static_cast<std::uint64_t>(st.st_size) && existing->mtime_ns == ns(st.st_mtim)) {
        if (existing->ctime_ns == ns(st.st_ctim)) {
            batch_.touch_file(existing->id, volume_, rel);
            ++report_.files_unchanged;
            return;
        }
        if (!nocow) {
            const auto extents = read_fiemap(fd.get(), 0, existing->size, rel);
            if (layout_unchanged(cat_, existing->id, extents, existing->size, cat_.block_size())) {
                batch_.touch_file(existing->id, volume_, rel, ns(st.st_ctim));
                ++report_.files_unchanged;
                return;
            }
        }
    }
    queue(std::move(fd), st, id, rel, nocow, existing);
}

void RootScan::queue(UniqueFd fd, const struct stat& st, const catalog::FileIdentity& id, const std::string& rel,
                     bool nocow, const std::optional<catalog::FileRow>& previous) {
    const auto size = static_cast<std::uint64_t>(st.st_size);
    QueuedFile q;
    q.path = rel;
    q.st = st;
    q.extents = read_fiemap(fd.get(), 0, size, rel);
    q.holes = hole_blocks(q.extents, size, cat_.block_size());
    // Memory for kept digests is capped (24 bytes a block); past it files are just read.
    constexpr std::size_t kMaxKnownBlocks = std::size_t{4} << 20;
    if (!opt_.rehash && !nocow && sink_.known_blocks_held() < kMaxKnownBlocks) {
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
    // Aborted to failed/busy_retry if reading fails.
    rec.state = nocow ? catalog::FileState::nocow : catalog::FileState::hashed;
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

std::optional<std::string> RootScan::included_name(const std::vector<std::string>& names) const {
    for (const std::string& name : names) {
        if (name.empty() || name == ".") continue;
        // As the walk would have it: an excluded directory hides everything below it.
        bool excluded = false;
        for (std::size_t end = name.find('/'); !excluded; end = name.find('/', end + 1)) {
            excluded = filter_.excluded(std::string_view(name).substr(0, end));
            if (end == std::string::npos) break;
        }
        if (!excluded) return name;
    }
    return std::nullopt;
}

void RootScan::drop(const catalog::FileIdentity& id) {
    if (const auto row = cat_.find_file(id); row && row->seen_epoch != epoch_) leaving_.push_back(row->id);
}

void RootScan::visit_changed_inode(int root_fd, const std::string& root, std::uint64_t ino,
                                   std::uint64_t generation) {
    const catalog::FileIdentity id{subvol_, ino, static_cast<std::uint32_t>(generation)};
    const auto name = included_name(btrfs::inode_paths(root_fd, ino, root));
    if (!name) {
        ++report_.skipped["excluded"];
        return drop(id);
    }
    ++report_.files_seen;
    report_progress(false);
    // By handle: the inode we were told about or nothing (a reused number has another
    // generation). By name, without following symlinks, where handles are not allowed.
    UniqueFd fd = btrfs::open_inode(root_fd, {subvol_, ino, static_cast<std::uint32_t>(generation)});
    if (!fd && (errno == EPERM || errno == EOPNOTSUPP)) fd = open_beneath(root_fd, *name);
    if (!fd && unreadable_errno(errno)) return record_unreadable(report_, *name, errno);
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_ino != ino || !S_ISREG(st.st_mode)) {
        ++report_.skipped["vanished during the scan"];
        return;
    }
    int gen_now = 0;
    if (::ioctl(fd.get(), FS_IOC_GETVERSION, &gen_now) != 0) throw_errno("FS_IOC_GETVERSION", *name);
    if (static_cast<std::uint32_t>(gen_now) != id.generation) {
        ++report_.skipped["vanished during the scan"];  // the name now holds another inode
        return;
    }
    if (static_cast<std::uint64_t>(st.st_size) < opt_.min_size) {
        ++report_.skipped["smaller than --min-size"];
        return drop(id);
    }
    examine(std::move(fd), st, static_cast<std::uint32_t>(id.generation), *name);
}

bool RootScan::incremental(int root_fd, const std::string& root, catalog::VolumeId volume, std::uint64_t subvol,
                           std::uint64_t generation, VolumeScanResult& result) {
    volume_ = volume;
    subvol_ = subvol;
    sink_.on_progress([this] { report_progress(false); });
    std::vector<std::pair<std::uint64_t, std::uint64_t>> changed_dirs;  // (inode, transid that made it)
    btrfs::InodeScan scan(root_fd, generation + 1, root);
    while (auto changed = scan.next()) {
        if (stop()) break;
        const btrfs::InodeItem& inode = changed->inode;
        if (inode.is_directory()) {
            changed_dirs.emplace_back(changed->ino, inode.generation);
        } else if (inode.is_regular() && inode.nlink > 0) {
            ++result.inodes_changed;
            visit_changed_inode(root_fd, root, changed->ino, inode.generation);
        }
    }
    walk_done_ = true;
    if (!stopped_) {
        // Files leave a subvolume only through a directory entry that goes away, and only a
        // changed directory can have lost one: its old entries (DIR_INDEX <= the highest
        // recorded) are counted. A full pass over every inode is needed only when one is missing.
        bool entry_left = false;
        std::vector<catalog::Catalog::DirectoryEntries> now;
        for (const auto& [dir, created] : changed_dirs) {
            const auto stored = cat_.directory(subvol_, dir);
            const auto count = btrfs::count_directory_entries(root_fd, dir, stored ? stored->max_index : 0, root);
            // Unknown and older than the last pass: cannot tell, so look at everything.
            if (stored ? count.at_or_below < stored->entries : created <= generation) entry_left = true;
            now.push_back({dir, count.entries, count.max_index});
        }
        if (entry_left) {
            reconcile_deletions(root_fd, root, result);
        } else {
            for (const auto& d : now) cat_.set_directory(subvol_, d);
        }
    }
    if (!leaving_.empty()) {
        batch_.commit();  // delete_files runs its own transaction
        const std::uint64_t n = cat_.delete_files(leaving_);
        result.files_deleted += n;
        report_.files_deleted += n;
        leaving_.clear();
    }
    return !stopped_;
}

void RootScan::reconcile_deletions(int root_fd, const std::string& root, VolumeScanResult& result) {
    result.deletions_reconciled = true;
    // Catalogue rows and the subvolume's inodes both come in inode order: one merge. The same
    // pass counts every directory's entries afresh.
    btrfs::InodeScan all(root_fd, 0, root);
    std::vector<catalog::Catalog::DirectoryEntries> dirs;
    auto advance = [&] {
        auto next = all.next();
        if (next && next->inode.is_directory()) dirs.push_back({next->ino, next->dir_entries, next->max_dir_index});
        return next;
    };
    std::optional<btrfs::ChangedInode> live = advance();
    (void)cat_.for_each_file(subvol_, [&](const catalog::FileRow& row) {
        while (live && live->ino < row.identity.ino) live = advance();
        const bool exists = live && live->ino == row.identity.ino && live->inode.is_regular() &&
                            live->inode.nlink > 0 &&
                            static_cast<std::uint32_t>(live->inode.generation) == row.identity.generation;
        if (!exists) leaving_.push_back(row.id);
        return true;
    });
    while (live) live = advance();
    batch_.commit();  // replace_directories runs its own transaction
    cat_.replace_directories(subvol_, dirs);
}

void RootScan::record_directories(int root_fd, const std::string& root) {
    btrfs::InodeScan all(root_fd, 0, root);
    std::vector<catalog::Catalog::DirectoryEntries> dirs;
    while (auto next = all.next()) {
        if (next->inode.is_directory()) dirs.push_back({next->ino, next->dir_entries, next->max_dir_index});
    }
    batch_.commit();
    cat_.replace_directories(subvol_, dirs);
}

void RootScan::report_progress(bool force) {
    if (!progress_) return;
    const auto now = Clock::now();
    if (!force && now - last_progress_ < std::chrono::milliseconds(250)) return;
    last_progress_ = now;
    progress_(ScanProgress{report_.files_seen, report_.files_hashed, sink_.bytes_delivered(), bytes_queued_,
                           walk_done_});
}

}  // namespace rdd
