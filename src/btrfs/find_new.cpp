// find-new: the btrfs-progs-compatible listing of new extents, and --all-changes.
#include "reflinkdedup/btrfs/find_new.hpp"

#include <btrfsutil.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <ostream>

#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/paths.hpp"
#include "reflinkdedup/btrfs/tree_search.hpp"

namespace rdd::btrfs {

namespace {

// btrfs-progs commits before searching (btrfs_util_sync_fd: BTRFS_IOC_SYNC), so the listing
// includes everything written before the command started.
void sync_like_btrfs_progs(int fd, const std::string& path) {
    if (btrfs_util_sync_fd(fd) != BTRFS_UTIL_OK) {
        throw_ioctl_error(errno, "BTRFS_IOC_SYNC", "sync", path);
    }
}

// first_link_path for each extent's inode, remembering the last inode (its extents come in a
// run) and the last directory (files of one directory come together), as btrfs-progs does.
class NameCache {
public:
    NameCache(int fd, const std::string& path) : fd_(fd), path_(path) {}
    const std::optional<std::string>& name(std::uint64_t ino) {
        if (ino_ && *ino_ == ino) return name_;
        ino_ = ino;
        name_.reset();
        if (auto ref = first_inode_ref(fd_, ino, path_)) {
            if (!dir_ino_ || *dir_ino_ != ref->parent) {
                dir_path_ = directory_path(fd_, ref->parent, path_);
                dir_ino_ = ref->parent;
            }
            name_ = dir_path_ + ref->name;
        }
        return name_;
    }

private:
    int fd_;
    const std::string& path_;
    std::optional<std::uint64_t> ino_;
    std::optional<std::string> name_;
    std::optional<std::uint64_t> dir_ino_;
    std::string dir_path_;
};

}  // namespace

std::uint64_t transid_marker(int fd, const std::string& path) {
    const std::uint64_t tree = subvolume_id(fd, path);
    SearchKey key;
    key.tree_id = kRootTreeObjectid;
    key.min_objectid = key.max_objectid = tree;
    key.min_type = key.max_type = kRootItemKey;
    TreeSearch search(fd, key, path, std::size_t{64} << 10);
    // A subvolume being deleted can leave more than one ROOT_ITEM: take the newest.
    std::uint64_t marker = 0;
    while (auto item = search.next()) {
        if (item->header.objectid == tree && item->header.type == kRootItemKey) {
            marker = std::max(marker, parse_root_item_generation(item->data));
        }
    }
    return marker;
}

FindNewCounts write_find_new(int fd, std::uint64_t gen, const std::string& path, std::ostream& out,
                             std::ostream& err) {
    sync_like_btrfs_progs(fd, path);
    FindNewCounts counts;
    counts.transid_marker = transid_marker(fd, path);

    SearchKey key;  // what btrfs-progs asks for: (0, 0, 0) .. (max, EXTENT_DATA, max)
    key.max_type = kExtentDataKey;
    key.min_transid = gen;
    TreeSearch search(fd, key, path);
    NameCache names(fd, path);
    while (auto item = search.next()) {
        const ItemHeader& h = item->header;
        if (h.type != kExtentDataKey) continue;
        // btrfs-progs' version-1 search hands back over-long items empty, read as zeroes.
        const FileExtentItem fe = h.len > kTreeSearchV1MaxItemBytes
                                      ? FileExtentItem{}
                                      : parse_file_extent_item(item->data);
        if (fe.generation < gen) continue;
        const auto& name = names.name(h.objectid);
        if (!name) continue;  // no INODE_REF: btrfs-progs prints nothing for it either
        if (fe.type > static_cast<std::uint8_t>(FileExtentType::Prealloc)) {
            err << "reflinkdedup: find-new: "
                << format_unknown_extent_type(h.objectid, h.offset, fe);
            continue;
        }
        out << format_find_new_line(h.objectid, h.offset, fe, *name);
        ++counts.lines;
    }
    out << "transid marker was " << counts.transid_marker << '\n';
    return counts;
}

FindNewCounts write_all_changes(int fd, std::uint64_t gen, const std::string& path,
                                std::ostream& out) {
    sync_like_btrfs_progs(fd, path);
    FindNewCounts counts;
    counts.transid_marker = transid_marker(fd, path);
    InodeScan scan(fd, gen, path);
    while (auto change = scan.next()) {
        out << format_change_line(*change, gen, inode_paths(fd, change->ino, path));
        ++counts.lines;
    }
    out << "transid marker was " << counts.transid_marker << '\n';
    return counts;
}

}  // namespace rdd::btrfs
