#pragma once
// `reflinkdedup find-new`: the output of `btrfs subvolume find-new SUBVOL GEN` (btrfs-progs 6.2)
// line for line, and --all-changes, which lists every inode whose INODE_ITEM changed, including
// what btrfs-progs cannot see (it only lists data extents written at or after GEN).
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "reflinkdedup/btrfs/inode_scan.hpp"
#include "reflinkdedup/btrfs/items.hpp"

namespace rdd::btrfs {

// What btrfs-progs prints last, "transid marker was N": the largest generation among the
// ROOT_ITEMs of the fd's subvolume in the root tree. Needs root.
[[nodiscard]] std::uint64_t transid_marker(int fd, const std::string& path);

// btrfs-progs reads with the version-1 search, whose buffer holds 3992 bytes: an item longer
// than 3960 bytes comes back empty and is then read as all zeroes. Reproduced for fidelity.
inline constexpr std::uint32_t kTreeSearchV1MaxItemBytes = 3992 - 32;

// "inode 257 file offset 0 len 4096 disk start 13631488 offset 0 gen 7 flags NONE dir/a\n"
[[nodiscard]] std::string format_find_new_line(std::uint64_t ino, std::uint64_t file_offset,
                                               const FileExtentItem& item, std::string_view name);
// The line btrfs-progs writes to stderr for an extent type it does not know.
[[nodiscard]] std::string format_unknown_extent_type(std::uint64_t ino, std::uint64_t file_offset,
                                                     const FileExtentItem& item);

// What --all-changes says changed about an inode, as comma-separated words:
//   new          created at or after GEN;
//   extents      has data extents written at or after GEN (the only thing btrfs-progs lists);
//   old-extents  new, but all of its data is in older extents (reflink copy, clone);
//   inode-only   existed before GEN, changed, yet no new extent: attributes, mode, owner,
//                xattrs, timestamps, a link or rename, an in-place write to a NOCOW file, a
//                dedupe or clone onto it.
[[nodiscard]] std::string describe_change(const ChangedInode& change, std::uint64_t gen);

// "inode 259 gen 36 transid 45 size 4096 mode 0100644 nlink 1 flags IMMUTABLE changed
// inode-only\tdir/f02\n": fields separated by spaces, then one tab-separated field per path
// (hard link); tab, newline and backslash in names are written \t, \n and \\.
[[nodiscard]] std::string format_change_line(const ChangedInode& change, std::uint64_t gen,
                                             const std::vector<std::string>& paths);

struct FindNewCounts {
    std::uint64_t lines = 0;
    std::uint64_t transid_marker = 0;
};

// Writes btrfs-progs 6.2's `btrfs subvolume find-new` output for the subvolume whose root is
// `fd`: one line per EXTENT_DATA item with generation >= gen, in key order, then "transid
// marker was N". Commits the running transaction first, as btrfs-progs does. Extents of an
// inode without an INODE_REF are skipped, also as btrfs-progs does. Needs root.
FindNewCounts write_find_new(int fd, std::uint64_t gen, const std::string& path, std::ostream& out,
                             std::ostream& err);

// One format_change_line per inode with INODE_ITEM.transid >= gen, then the transid marker.
FindNewCounts write_all_changes(int fd, std::uint64_t gen, const std::string& path,
                                std::ostream& out);

}  // namespace rdd::btrfs
