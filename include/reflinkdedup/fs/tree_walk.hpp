#pragma once
// Walking a directory tree the safe way: openat() relative to the parent's descriptor, never
// following symlinks, not crossing into other filesystems or btrfs subvolumes (they have
// their own st_dev), visiting only regular files, each directory in inode order. Memory follows
// the directories on the current path (their names), not the size of the tree.
#include <sys/stat.h>

#include <functional>
#include <string>
#include <string_view>

namespace rdd {

struct WalkedFile {
    int dir_fd;                // the parent directory, for a race-free openat(dir_fd, name)
    std::string_view name;
    std::string_view relative; // path below the root, "a/b/file"
    const struct stat& st;     // from fstatat(AT_SYMLINK_NOFOLLOW)
};

enum class WalkSkipKind { Excluded, OtherFilesystem, Symlink, Special, Vanished, Unreadable };

struct WalkCallbacks {
    std::function<void(const WalkedFile&)> file;
    // Directories the walk did not enter and entries it did not visit, with why.
    std::function<void(std::string_view relative, WalkSkipKind kind, int err)> skipped;
    // Exclusion test on the path below the root; directories that match are not entered.
    std::function<bool(std::string_view relative)> excluded;
    // Checked before each directory entry; true stops the walk early (interrupt, time budget).
    std::function<bool()> stop;
};

// Walks `root` (a directory). Throws SysError if the root itself cannot be opened.
void walk_tree(const std::string& root, bool one_filesystem, const WalkCallbacks& cb);

}  // namespace rdd
