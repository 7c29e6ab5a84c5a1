// Subvolume listing and generations (libbtrfsutil, BTRFS_IOC_GET_SUBVOL_INFO).
#include "reflinkdedup/btrfs/subvolume.hpp"

#include <btrfsutil.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/items.hpp"
#include "reflinkdedup/btrfs/paths.hpp"
#include "reflinkdedup/fs/filesystem.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd::btrfs {

namespace {

struct IteratorDeleter {
    void operator()(btrfs_util_subvolume_iterator* it) const noexcept {
        btrfs_util_destroy_subvolume_iterator(it);
    }
};
using IteratorPtr = std::unique_ptr<btrfs_util_subvolume_iterator, IteratorDeleter>;

struct FreeDeleter {
    void operator()(char* p) const noexcept { std::free(p); }
};

// libbtrfsutil reports an enum and leaves errno set.
[[noreturn]] void throw_util_error(btrfs_util_error err, const char* operation,
                                   const std::string& path) {
    const int saved = errno;
    if (err == BTRFS_UTIL_ERROR_NOT_BTRFS) throw NotBtrfsError(path + ": not on btrfs");
    if (err == BTRFS_UTIL_ERROR_NOT_SUBVOLUME)
        throw NotSubvolumeError(path + ": not a btrfs subvolume");
    const std::string what = std::string(operation) + " (" + btrfs_util_strerror(err) + ")";
    throw_ioctl_error(saved != 0 ? saved : EIO, what, "listing subvolumes (tree search)", path);
}

UniqueFd open_directory(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open", path);
    return fd;
}

void require_btrfs(int fd, const std::string& path) {
    const FilesystemInfo fs = probe_filesystem(fd, path);
    if (fs.type != FsType::Btrfs)
        throw NotBtrfsError(path + ": not on btrfs (" + fs.type_name + ")");
}

Uuid to_uuid(const std::uint8_t (&bytes)[16]) {
    Uuid u;
    std::copy(std::begin(bytes), std::end(bytes), u.begin());
    return u;
}

SubvolumeInfo from_util(const struct btrfs_util_subvolume_info& in) {
    SubvolumeInfo out;
    out.id = in.id;
    out.parent_id = in.parent_id;
    out.dir_id = in.dir_id;
    out.read_only = (in.flags & BTRFS_ROOT_SUBVOL_RDONLY) != 0;
    out.generation = in.generation;
    out.ctransid = in.ctransid;
    out.otransid = in.otransid;
    out.uuid = to_uuid(in.uuid);
    out.parent_uuid = to_uuid(in.parent_uuid);
    out.received_uuid = to_uuid(in.received_uuid);
    return out;
}

// "a/b/" -> 2: how many directories a prefix from INO_LOOKUP descends.
std::size_t depth(const std::string& prefix) {
    return static_cast<std::size_t>(std::count(prefix.begin(), prefix.end(), '/'));
}

}  // namespace

bool is_nil(const Uuid& uuid) noexcept {
    return std::all_of(uuid.begin(), uuid.end(), [](std::uint8_t b) { return b == 0; });
}

std::string to_string(const Uuid& uuid) {
    if (is_nil(uuid)) return "-";
    std::string out;
    char buf[3];
    for (std::size_t i = 0; i < uuid.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        std::snprintf(buf, sizeof buf, "%02x", uuid[i]);
        out += buf;
    }
    return out;
}

bool is_subvolume_root(int fd, const std::string& path) {
    struct statfs sfs {};
    if (::fstatfs(fd, &sfs) != 0) throw_errno("statfs", path);
    if (static_cast<std::uint64_t>(sfs.f_type) != BTRFS_SUPER_MAGIC) return false;
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno("stat", path);
    return S_ISDIR(st.st_mode) && st.st_ino == kFirstFreeObjectid;
}

SubvolumeInfo subvolume_at(const std::filesystem::path& path) {
    const UniqueFd fd = open_directory(path);
    require_btrfs(fd.get(), path);
    if (!is_subvolume_root(fd.get(), path))
        throw NotSubvolumeError(path.string() + ": not a btrfs subvolume");
    struct btrfs_util_subvolume_info info {};
    if (const auto err = btrfs_util_subvolume_info_fd(fd.get(), 0, &info); err != BTRFS_UTIL_OK) {
        throw_util_error(err, "btrfs_util_subvolume_info", path);
    }
    SubvolumeInfo out = from_util(info);
    out.relative_path = std::string(1, '.');  // move-assign: GCC 12 -Wrestrict misfires on = "."
    out.absolute_path = std::filesystem::canonical(path);
    return out;
}

std::vector<SubvolumeInfo> list_subvolumes(const std::filesystem::path& path) {
    const std::string where = path.string();
    const UniqueFd fd = open_directory(where);
    require_btrfs(fd.get(), where);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("stat", where);
    const std::uint64_t id = subvolume_id(fd.get(), where);
    const std::filesystem::path absolute = std::filesystem::canonical(path);

    // Where `path` sits inside its subvolume ("" at the root, else "a/b/").
    const std::string prefix =
        st.st_ino == kFirstFreeObjectid ? "" : directory_path(fd.get(), st.st_ino, where);

    struct btrfs_util_subvolume_info info {};
    if (const auto err = btrfs_util_subvolume_info_fd(fd.get(), id, &info); err != BTRFS_UTIL_OK) {
        throw_util_error(err, "btrfs_util_subvolume_info", where);
    }
    std::vector<SubvolumeInfo> result;
    SubvolumeInfo containing = from_util(info);
    containing.absolute_path = absolute;
    std::filesystem::path up = ".";
    for (std::size_t i = 0; i < depth(prefix); ++i) {
        up = up == "." ? ".." : up / "..";
        containing.absolute_path = containing.absolute_path.parent_path();
    }
    containing.relative_path = up.string();
    result.push_back(std::move(containing));

    btrfs_util_subvolume_iterator* raw = nullptr;
    if (const auto err = btrfs_util_create_subvolume_iterator_fd(fd.get(), id, 0, &raw);
        err != BTRFS_UTIL_OK) {
        throw_util_error(err, "btrfs_util_create_subvolume_iterator", where);
    }
    const IteratorPtr iter(raw);
    for (;;) {
        char* raw_path = nullptr;
        const auto err = btrfs_util_subvolume_iterator_next_info(iter.get(), &raw_path, &info);
        if (err == BTRFS_UTIL_ERROR_STOP_ITERATION) break;
        if (err != BTRFS_UTIL_OK)
            throw_util_error(err, "btrfs_util_subvolume_iterator_next_info", where);
        const std::unique_ptr<char, FreeDeleter> owned(raw_path);
        const std::string sub_path = raw_path;  // relative to subvolume `id`
        if (sub_path.compare(0, prefix.size(), prefix) != 0) continue;  // not below `path`
        SubvolumeInfo sub = from_util(info);
        sub.relative_path = sub_path.substr(prefix.size());
        sub.absolute_path = absolute / sub.relative_path;
        result.push_back(std::move(sub));
    }
    return result;
}

bool subvolume_exists(int fd, std::uint64_t id, const std::string& path) {
    struct btrfs_util_subvolume_info info {};
    const auto err = btrfs_util_subvolume_info_fd(fd, id, &info);
    if (err == BTRFS_UTIL_ERROR_SUBVOLUME_NOT_FOUND) return false;
    if (err != BTRFS_UTIL_OK) throw_util_error(err, "btrfs_util_subvolume_info", path);
    return id == BTRFS_FS_TREE_OBJECTID || info.parent_id != 0;
}

std::uint64_t subvolume_generation(int fd, const std::string& path) {
    btrfs_ioctl_get_subvol_info_args args{};
    // Linux 6.18 returns 1 on success (KERNEL-FACTS §5): only a negative result is an error.
    if (::ioctl(fd, BTRFS_IOC_GET_SUBVOL_INFO, &args) < 0) {
        throw_ioctl_error(errno, "BTRFS_IOC_GET_SUBVOL_INFO", "subvolume info", path);
    }
    return args.generation;
}

void commit_transaction(int fd, const std::string& path) {
    // syncfs waits for writeback (so delayed allocation has its EXTENT_DATA items) and, on
    // btrfs, commits the running transaction.
    if (::syncfs(fd) != 0) throw_errno("syncfs", path);
}

std::uint64_t committed_generation(int fd, const std::string& path) {
    commit_transaction(fd, path);
    return subvolume_generation(fd, path);
}

}  // namespace rdd::btrfs
