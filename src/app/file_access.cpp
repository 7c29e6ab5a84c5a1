#include "file_access.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include "reflinkdedup/app/file_set.hpp"
#include "reflinkdedup/btrfs/open_inode.hpp"
#include "reflinkdedup/btrfs/subvolume.hpp"
#include "reflinkdedup/fs/fiemap.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

namespace {

constexpr std::size_t kKeptOpen = 64;

std::int64_t ns(const timespec& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

}  // namespace

FileAccess::FileAccess(const catalog::Catalog& cat, const FilesystemInfo& fs, bool modify_read_only_snapshots)
    : cat_(cat), fs_(fs), modify_read_only_snapshots_(modify_read_only_snapshots) {
    for (const catalog::Volume& v : cat.volumes()) {
        VolumeInfo info{v.path, false};
        if (v.subvol_id != 0 && !modify_read_only_snapshots) {
            try {
                info.read_only = btrfs::subvolume_at(v.path).read_only;
            } catch (const std::exception&) {
                info.read_only = true;  // cannot tell: never modify it
            }
        }
        volumes_[v.id] = info;
    }
}

const catalog::FileRow* FileAccess::row(catalog::FileId id) {
    auto [it, added] = rows_.try_emplace(id);
    if (added) it->second = cat_.file(id);
    return it->second ? &*it->second : nullptr;
}

bool FileAccess::shareable(catalog::FileId id) {
    const catalog::FileRow* r = row(id);
    if (r == nullptr || r->state != catalog::FileState::hashed) return false;
    // Only small btrfs files can be inline (max_inline <= 2 block sizes); asked once each.
    if (fs_.type != FsType::Btrfs || r->size > 2 * std::uint64_t{fs_.block_size}) return true;
    auto [it, added] = inline_.try_emplace(id, false);
    if (added) {
        const OpenedFile f = open_regular_file(path_of(*r));
        if (!f.problem) {
            const auto ext = read_fiemap(f.fd.get(), 0, 1, f.path);
            it->second = !ext.empty() && ext.front().inline_data;
            if (it->second) ++inline_count_;
        }
    }
    return !it->second;
}

bool FileAccess::may_modify(catalog::FileId id) {
    const catalog::FileRow* r = row(id);
    if (r == nullptr || r->state != catalog::FileState::hashed) return false;
    const auto v = volumes_.find(r->volume);
    return v != volumes_.end() && !v->second.read_only;
}

std::string FileAccess::path_of(const catalog::FileRow& r) const {
    const auto v = volumes_.find(r.volume);
    return (v == volumes_.end() ? std::string("?") : v->second.path) + "/" + r.path;
}

std::string FileAccess::path_of(catalog::FileId id) {
    const catalog::FileRow* r = row(id);
    return r ? path_of(*r) : "file #" + std::to_string(id);
}

OpenedFile* FileAccess::open(catalog::FileId id, bool as_destination, std::string& why) {
    auto it = open_.find(id);
    if (it == open_.end()) it = open_.emplace(id, std::make_unique<OpenedFile>(open_file(id))).first;
    OpenedFile& f = *it->second;
    if (f.problem) {
        why = *f.problem;
        return nullptr;
    }
    if (const auto p = sharing_problem(f, fs_, as_destination, modify_read_only_snapshots_)) {
        why = *p;
        return nullptr;
    }
    return &f;
}

std::string FileAccess::scratch_dir(const std::string& file_path) const {
    std::string dir = std::filesystem::path(file_path).parent_path().string();
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return dir;
    for (const auto& [id, v] : volumes_) {
        if (!v.read_only) return v.path;
    }
    return dir;
}

void FileAccess::trim(catalog::FileId keep) {
    if (open_.size() <= kKeptOpen) return;  // jobs go file by file: few files are hot
    std::erase_if(open_, [&](const auto& entry) { return entry.first != keep; });
}

// btrfs: by handle (subvolume, inode, generation), so a renamed directory above the file (an
// incremental scan looks at changed inodes only, and keeps the old path) or a path component
// swapped for a symlink does not matter. Falls back to the path where handles are not allowed.
std::optional<OpenedFile> FileAccess::open_by_handle(const catalog::FileRow& r) {
    if (fs_.type != FsType::Btrfs || r.identity.subvol == 0) return std::nullopt;
    if (!mount_fd_) {
        const auto v = volumes_.find(r.volume);
        if (v == volumes_.end()) return std::nullopt;
        mount_fd_ = UniqueFd(::open(v->second.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!mount_fd_) return std::nullopt;
    }
    OpenedFile f;
    f.path = path_of(r);
    f.fd = btrfs::open_inode(mount_fd_.get(),
                            {r.identity.subvol, r.identity.ino, static_cast<std::uint32_t>(r.identity.generation)});
    if (!f.fd) {
        if (errno == EPERM || errno == EOPNOTSUPP || errno == EACCES) return std::nullopt;
        f.problem = errno == ESTALE ? std::string("no such file") : errno_text(errno);
        return f;
    }
    if (::fstat(f.fd.get(), &f.st) != 0) throw_errno("fstat", f.path);
    if (!S_ISREG(f.st.st_mode)) f.problem = "not a regular file";
    return f;
}

OpenedFile FileAccess::open_file(catalog::FileId id) {
    const catalog::FileRow* r = row(id);
    std::optional<OpenedFile> by_handle = r ? open_by_handle(*r) : std::nullopt;
    OpenedFile f = by_handle ? std::move(*by_handle) : open_regular_file(r ? path_of(*r) : std::string("?"));
    if (f.problem || r == nullptr) return f;
    int generation = 0;
    const bool same = ::ioctl(f.fd.get(), FS_IOC_GETVERSION, &generation) == 0 &&
                      static_cast<std::uint32_t>(generation) == r->identity.generation &&
                      f.st.st_ino == r->identity.ino && static_cast<std::uint64_t>(f.st.st_size) == r->size &&
                      ns(f.st.st_mtim) == r->mtime_ns;
    // A ctime that moved after this run checked the file is our own doing: --lock=immutable
    // sets and clears a flag (the kernel compares the bytes anyway).
    if (!same || (ns(f.st.st_ctim) != r->ctime_ns && !checked_.contains(id))) {
        f.problem = "changed since it was scanned; retried next run";
    } else {
        checked_.insert(id);
    }
    return f;
}

}  // namespace rdd
