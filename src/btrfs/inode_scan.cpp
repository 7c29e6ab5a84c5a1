// Changed-inode search (INODE_ITEM.transid) and per-inode extent lists.
#include "reflinkdedup/btrfs/inode_scan.hpp"

#include <algorithm>
#include <utility>

namespace rdd::btrfs {

namespace {

// Every item of every inode: (256, 0, 0) .. (-256, 255, max). Compound key order means types
// cannot be narrowed for a range of objectids; the items are filtered here instead.
SearchKey inode_range(std::uint64_t min_transid) {
    SearchKey key;
    key.min_objectid = kFirstFreeObjectid;
    key.max_objectid = kLastFreeObjectid;
    key.min_transid = min_transid;
    return key;
}

}  // namespace

InodeScan::InodeScan(int fd, std::uint64_t min_transid, std::string path, std::size_t buffer_bytes)
    : min_transid_(min_transid),
      search_(fd, inode_range(min_transid), std::move(path), buffer_bytes) {}

std::optional<ChangedInode> InodeScan::next() {
    while (auto item = search_.next()) {
        const ItemHeader& h = item->header;
        // An inode's items are contiguous and its INODE_ITEM (type 1) comes first, so a new
        // objectid completes the pending inode.
        std::optional<ChangedInode> done;
        if (pending_ && h.objectid != pending_->ino) done = std::exchange(pending_, std::nullopt);
        if (h.type == kInodeItemKey) {
            InodeItem inode = parse_inode_item(item->data);
            // Leaves newer than min_transid carry older inodes too: filter on the inode's own.
            if (inode.transid >= min_transid_) pending_ = ChangedInode{h.objectid, inode, 0};
        } else if (h.type == kDirIndexKey && pending_ && h.objectid == pending_->ino) {
            ++pending_->dir_entries;
            pending_->max_dir_index = std::max(pending_->max_dir_index, h.offset);
        } else if (h.type == kExtentDataKey && pending_ && h.objectid == pending_->ino) {
            if (parse_file_extent_item(item->data).generation >= min_transid_) {
                ++pending_->new_extent_items;
            }
        }
        if (done) return done;
    }
    return std::exchange(pending_, std::nullopt);
}

std::vector<FileExtent> read_file_extents(int fd, std::uint64_t ino, const std::string& path) {
    SearchKey key;
    key.min_objectid = key.max_objectid = ino;
    key.min_type = key.max_type = kExtentDataKey;
    // Small buffer: most files have few extents, and it grows if one item needs more.
    TreeSearch search(fd, key, path, std::size_t{64} << 10);
    std::vector<FileExtent> extents;
    while (auto item = search.next()) {
        if (item->header.type != kExtentDataKey || item->header.objectid != ino) continue;
        extents.push_back({ino, item->header.offset, parse_file_extent_item(item->data)});
    }
    return extents;
}

DirectoryCount count_directory_entries(int fd, std::uint64_t dir, std::uint64_t up_to, const std::string& path) {
    SearchKey key;
    key.min_objectid = key.max_objectid = dir;
    key.min_type = key.max_type = kDirIndexKey;
    TreeSearch search(fd, key, path, std::size_t{64} << 10);
    DirectoryCount count;
    while (auto item = search.next()) {
        if (item->header.type != kDirIndexKey || item->header.objectid != dir) continue;
        ++count.entries;
        count.max_index = std::max(count.max_index, item->header.offset);
        if (item->header.offset <= up_to) ++count.at_or_below;
    }
    return count;
}

std::vector<ChangedFile> changes_since(int fd, std::uint64_t generation, const std::string& path) {
    std::vector<ChangedFile> changes;
    if (generation == kMaxU64) return changes;
    InodeScan scan(fd, generation + 1, path);
    while (auto inode = scan.next()) changes.push_back({*inode, {}});
    // Extents after the scan: each needs its own search from offset 0 (older leaves included).
    for (ChangedFile& c : changes) {
        if (c.inode.inode.is_regular()) c.extents = read_file_extents(fd, c.inode.ino, path);
    }
    return changes;
}

}  // namespace rdd::btrfs
