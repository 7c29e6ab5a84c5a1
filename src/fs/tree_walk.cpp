#include "reflinkdedup/fs/tree_walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
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

struct Frame {
    DirPtr dir;
    std::string relative;
};

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
    stack.push_back({DirPtr(root_dir), {}});
    while (!stack.empty()) {
        if (cb.stop && cb.stop()) return;
        Frame& top = stack.back();
        errno = 0;
        const dirent* de = ::readdir(top.dir.get());
        if (de == nullptr) {
            if (errno != 0) skip(top.relative, WalkSkipKind::Unreadable, errno);
            stack.pop_back();
            continue;
        }
        if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;

        const int dfd = ::dirfd(top.dir.get());
        const std::string rel = join(top.relative, de->d_name);
        struct stat st {};
        if (::fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
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
            if (cb.file) cb.file(WalkedFile{dfd, de->d_name, rel, st});
        } else if (one_filesystem && st.st_dev != root_st.st_dev) {
            skip(rel, WalkSkipKind::OtherFilesystem, 0);  // a mount point or a btrfs subvolume
        } else {
            int err = 0;
            DirPtr sub = open_dir_at(dfd, de->d_name, st, err);
            if (!sub) {
                skip(rel, err == ENOENT ? WalkSkipKind::Vanished : WalkSkipKind::Unreadable, err);
                continue;
            }
            stack.push_back({std::move(sub), rel});  // invalidates `top`
        }
    }
}

}  // namespace rdd
