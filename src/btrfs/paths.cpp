// Inode numbers to paths: INO_LOOKUP, INO_PATHS, and the INODE_REF/INODE_EXTREF items.
#include "reflinkdedup/btrfs/paths.hpp"

#include <linux/btrfs.h>
#include <sys/ioctl.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/items.hpp"
#include "reflinkdedup/btrfs/tree_search.hpp"

namespace rdd::btrfs {

namespace {

btrfs_ioctl_ino_lookup_args ino_lookup(int fd, std::uint64_t ino, const std::string& path) {
    btrfs_ioctl_ino_lookup_args args{};
    args.treeid = 0;  // the fd's subvolume
    args.objectid = ino;
    if (::ioctl(fd, BTRFS_IOC_INO_LOOKUP, &args) != 0) {
        throw_ioctl_error(errno, "BTRFS_IOC_INO_LOOKUP(" + std::to_string(ino) + ")",
                          "inode path lookup", path);
    }
    args.name[sizeof args.name - 1] = '\0';  // never trust the terminator
    return args;
}

// All (parent, name) pairs of `ino` from its INODE_REF and INODE_EXTREF items.
std::vector<InodeName> inode_names(int fd, std::uint64_t ino, const std::string& path) {
    SearchKey key;
    key.min_objectid = key.max_objectid = ino;
    key.min_type = kInodeRefKey;
    key.max_type = kInodeExtrefKey;
    TreeSearch search(fd, key, path, std::size_t{64} << 10);
    std::vector<InodeName> names;
    while (auto item = search.next()) {
        if (item->header.objectid != ino) continue;
        std::vector<InodeName> more;
        if (item->header.type == kInodeRefKey) {
            more = parse_inode_refs(item->data, item->header.offset);
        } else if (item->header.type == kInodeExtrefKey) {
            more = parse_inode_extrefs(item->data);
        }
        for (auto& n : more) names.push_back(std::move(n));
    }
    return names;
}

}  // namespace

std::uint64_t subvolume_id(int fd, const std::string& path) {
    return ino_lookup(fd, kFirstFreeObjectid, path).treeid;
}

std::string directory_path(int fd, std::uint64_t dir_ino, const std::string& path) {
    return ino_lookup(fd, dir_ino, path).name;
}

std::vector<std::string> inode_paths(int fd, std::uint64_t ino, const std::string& path) {
    if (ino == kFirstFreeObjectid) return {"."};  // the root's only ref is ".." to itself
    // The kernel answers at most 4096 bytes (it clamps the size); u64 words for alignment.
    std::array<std::uint64_t, 4096 / 8> buffer{};
    btrfs_ioctl_ino_path_args args{};
    args.inum = ino;
    args.size = sizeof buffer;
    args.fspath = reinterpret_cast<std::uintptr_t>(buffer.data());
    if (::ioctl(fd, BTRFS_IOC_INO_PATHS, &args) != 0) {
        if (errno == ENOENT) return {};  // no links left (or no such inode)
        throw_ioctl_error(errno, "BTRFS_IOC_INO_PATHS(" + std::to_string(ino) + ")",
                          "inode path lookup", path);
    }
    InoPathsResult result = parse_ino_paths(std::as_bytes(std::span<const std::uint64_t>(buffer)));
    if (result.missed == 0) return std::move(result.paths);
    // More names than 4 KiB holds: build them all from the inode's ref items.
    std::vector<std::string> paths;
    for (const InodeName& n : inode_names(fd, ino, path)) {
        paths.push_back(directory_path(fd, n.parent, path) + n.name);
    }
    return paths;
}

std::optional<InodeName> first_inode_ref(int fd, std::uint64_t ino, const std::string& path) {
    SearchKey key;
    key.min_objectid = key.max_objectid = ino;
    key.min_type = key.max_type = kInodeRefKey;
    TreeSearch search(fd, key, path, std::size_t{16} << 10);
    search.set_items_per_call(1);
    const auto item = search.next();
    if (!item || item->header.type != kInodeRefKey) return std::nullopt;
    std::vector<InodeName> names = parse_inode_refs(item->data, item->header.offset);
    if (names.empty()) return std::nullopt;
    return std::move(names.front());
}

std::optional<std::string> first_link_path(int fd, std::uint64_t ino, const std::string& path) {
    auto name = first_inode_ref(fd, ino, path);
    if (!name) return std::nullopt;
    return directory_path(fd, name->parent, path) + name->name;
}

}  // namespace rdd::btrfs
