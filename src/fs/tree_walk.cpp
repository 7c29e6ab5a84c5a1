#include "reflinkdedup/fs/tree_walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

namespace {

struct DirCloser {
    void operator()(DIR* d) const noexcept { ::closedir(d); }  // also closes its descriptor
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

struct Entry {
    ino_t ino;
    std::string name;
};

// A directory being walked. Its entries are read at once and visited in inode order: inode
// numbers follow allocation, so this order reads data with fewer seeks and hands the catalog
// nearly ascending file identities (its identity index then inserts at its right edge).
struct Frame {
    DirPtr dir;
    std::string relative;
    std::vector<Entry> entries;
    std::size_t next = 0;
    bool read = false;
};

// Reads the rest of a directory stream; false with errno on a read error.
bool read_entries(Frame& f) {
    f.read = true;
    for (;;) {
        errno = 0;
        const dirent* de = ::readdir(f.dir.get());
        if (de == nullptr) break;
        if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
        f.entries.push_back({de->d_ino, de->d_name});
    }
    if (errno != 0) return false;
    std::sort(f.entries.begin(), f.entries.end(), [](const Entry& a, const Entry& b) { return a.ino < b.ino; });
    return true;
}

// Opens `name` in `parent` as a directory stream, refusing symlinks and checking that it is
// still the directory that was stat'ed (it may have been swapped meanwhile).
DirPtr open_dir_at(int parent, const char* name, const struct stat& expected, int& err) {
    const int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        err = errno;
        return nullptr;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || st.st_dev != expected.st_dev || st.st_ino != expected.st_ino) {
        ::close(fd);
        err = ENOENT;
        return nullptr;
    }
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
        err = errno;
        ::close(fd);
    }
    return DirPtr(d);
}

std::string join(const std::string& dir, const char* name) {
    return dir.empty() ? std::string(name) : dir + "/" + name;
}

}  // namespace

void walk_tree(const std::string& root, bool one_filesystem, const WalkCallbacks& cb) {
    const int root_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) throw_errno("open directory", root);
    struct stat root_st {};
    if (::fstat(root_fd, &root_st) != 0) {
        ::close(root_fd);
        throw_errno("stat", root);
    }
    DIR* root_dir = ::fdopendir(root_fd);
    if (root_dir == nullptr) {
        ::close(root_fd);
        throw_errno("opendir", root);
    }

    auto skip = [&](std::string_view rel, WalkSkipKind kind, int err) {
        if (cb.skipped) cb.skipped(rel, kind, err);
    };
    std::vector<Frame> stack;
    stack.push_back({DirPtr(root_dir), {}, {}, 0, false});
    while (!stack.empty()) {
        if (cb.stop && cb.stop()) return;
        Frame& top = stack.back();
        if (!top.read && !read_entries(top)) skip(top.relative, WalkSkipKind::Unreadable, errno);
        if (top.next == top.entries.size()) {
            stack.pop_back();
            continue;
        }
        const std::string name = std::move(top.entries[top.next++].name);
        const int dfd = ::dirfd(top.dir.get());
        const std::string rel = join(top.relative, name.c_str());
        struct stat st {};
        if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            skip(rel, errno == ENOENT ? WalkSkipKind::Vanished : WalkSkipKind::Unreadable, errno);
            continue;
        }
        if (S_ISLNK(st.st_mode)) {
            skip(rel, WalkSkipKind::Symlink, 0);
        } else if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
            skip(rel, WalkSkipKind::Special, 0);
        } else if (cb.excluded && cb.excluded(rel)) {
            skip(rel, WalkSkipKind::Excluded, 0);
        } else if (S_ISREG(st.st_mode)) {
            if (cb.file) cb.file(WalkedFile{dfd, name, rel, st});
        } else if (one_filesystem && st.st_dev != root_st.st_dev) {
            skip(rel, WalkSkipKind::OtherFilesystem, 0);  // a mount point or a btrfs subvolume
        } else {
            int err = 0;
            DirPtr sub = open_dir_at(dfd, name.c_str(), st, err);
            if (!sub) {
                skip(rel, err == ENOENT ? WalkSkipKind::Vanished : WalkSkipKind::Unreadable, err);
                continue;
            }
            stack.push_back({std::move(sub), rel, {}, 0, false});  // invalidates `top`
        }
    }
}

}  // namespace rdd
