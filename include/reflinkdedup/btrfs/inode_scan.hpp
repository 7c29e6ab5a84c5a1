#pragma once
// Which inodes of a subvolume changed since a generation, and where their data lives
// (KERNEL-FACTS §5 and design consequence 5). A change is selected by INODE_ITEM.transid, never
// by extent generation: nocow overwrites, reflink copies, dedupes, chattr, renames and links
// move the inode's transid but write no new extent. Deletions never show up here: reconcile
// with a full pass (min_transid 0). All of this needs root.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reflinkdedup/btrfs/items.hpp"
#include "reflinkdedup/btrfs/tree_search.hpp"

namespace rdd::btrfs {

struct ChangedInode {
    std::uint64_t ino = 0;
    InodeItem inode;
    // EXTENT_DATA items of this inode with generation >= min_transid (new data extents: what
    // `btrfs subvolume find-new` would list). Older extents are not counted.
    std::uint32_t new_extent_items = 0;
    // Directories: DIR_INDEX items and the highest index among them. Complete only in a full
    // pass (min_transid 0): an incremental one skips unchanged leaves of a big directory.
    std::uint64_t dir_entries = 0;
    std::uint64_t max_dir_index = 0;

    // Created at or after the scan's min_transid.
    [[nodiscard]] bool created_since(std::uint64_t min_transid) const noexcept {
        return inode.generation >= min_transid;
    }
};

// Streams, in inode order, every inode of the subvolume `fd` is in whose INODE_ITEM.transid is
// >= min_transid. min_transid 0 is the full pass (every inode). One pass over the tree, bounded
// memory; the search itself skips leaves older than min_transid, so an incremental scan costs
// what changed.
class InodeScan {
public:
    InodeScan(int fd, std::uint64_t min_transid, std::string path,
              std::size_t buffer_bytes = TreeSearch::kDefaultBufferBytes);

    [[nodiscard]] std::optional<ChangedInode> next();
    [[nodiscard]] const SearchStats& stats() const noexcept { return search_.stats(); }

private:
    std::uint64_t min_transid_;
    TreeSearch search_;
    std::optional<ChangedInode> pending_;  // INODE_ITEM seen; its EXTENT_DATA items may follow
};

// One EXTENT_DATA item: the file range [file_offset, file_offset + length) and where it lives.
struct FileExtent {
    std::uint64_t ino = 0;
    std::uint64_t file_offset = 0;
    FileExtentItem item;

    // Bytes of the file this item covers (inline: ram_bytes).
    [[nodiscard]] std::uint64_t length() const noexcept {
        return item.has_disk_fields() ? item.num_bytes : item.ram_bytes;
    }
};

// Every EXTENT_DATA item of inode `ino` in the subvolume `fd` is in, in file-offset order,
// whatever its generation. Sync first: delayed allocation writes extents only at writeback.
[[nodiscard]] std::vector<FileExtent> read_file_extents(int fd, std::uint64_t ino,
                                                        const std::string& path);

// A directory's entries by their DIR_INDEX numbers. btrfs numbers a directory's entries from a
// counter that only grows, so entries that existed when the highest index was M are exactly
// those numbered <= M that are still there: fewer of them than then means one left (unlink,
// rename away), which no search by transid can show otherwise.
struct DirectoryCount {
    std::uint64_t entries = 0;      // all entries now
    std::uint64_t max_index = 0;    // highest index now (0: empty)
    std::uint64_t at_or_below = 0;  // entries numbered <= the `up_to` asked about
};
[[nodiscard]] DirectoryCount count_directory_entries(int fd, std::uint64_t dir, std::uint64_t up_to,
                                                     const std::string& path);

struct ChangedFile {
    ChangedInode inode;
    std::vector<FileExtent> extents;  // all of them, for regular files; empty otherwise
};

// The incremental step of a nightly scan: inodes with transid > generation (the generation
// recorded after the previous run's sync), each regular file with its complete extent list.
[[nodiscard]] std::vector<ChangedFile> changes_since(int fd, std::uint64_t generation,
                                                     const std::string& path);

}  // namespace rdd::btrfs
