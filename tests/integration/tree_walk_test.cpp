// walk_tree on real btrfs and XFS: regular files only, symlinks never followed, no crossing
// into other filesystems or btrfs subvolumes, excluded directories not entered.
#include "reflinkdedup/fs/tree_walk.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "reflinkdedup/scan/path_filter.hpp"
#include "support/fs_kind_param.hpp"
#include "support/process.hpp"

namespace rdd::test {
namespace {

namespace fs = std::filesystem;

class TreeWalk : public LoopFsTest {
protected:
    void touch(const fs::path& p) { std::ofstream(p.string()) << p.filename().string(); }

    struct Result {
        std::set<std::string> files;
        std::map<std::string, WalkSkipKind> skipped;
    };

    Result walk(const PathFilter& filter = PathFilter{}) {
        Result r;
        WalkCallbacks cb;
        cb.file = [&](const WalkedFile& f) {
            EXPECT_TRUE(S_ISREG(f.st.st_mode));
            r.files.insert(std::string(f.relative));
        };
        cb.skipped = [&](std::string_view rel, WalkSkipKind k, int) { r.skipped[std::string(rel)] = k; };
        cb.excluded = [&](std::string_view rel) { return filter.excluded(rel); };
        walk_tree(fs().mount_point(), true, cb);
        return r;
    }
};

TEST_P(TreeWalk, VisitsRegularFilesAndSkipsEverythingElseWithAReason) {
    fs::create_directories(path("a/b/c"));
    touch(path("top"));
    touch(path("a/one"));
    touch(path("a/b/c/deep"));
    fs::create_directory_symlink("..", path("a/loop"));    // a symlink loop
    fs::create_symlink("/etc/passwd", path("a/outside"));  // points out of the volume
    ASSERT_EQ(::mkfifo(path("a/fifo").c_str(), 0600), 0);
    fs::create_directories(path("cache/x"));
    touch(path("cache/x/junk"));
    touch(path("a/b/skip.tmp"));
    fs::create_directory(path("mnt"));
    Mount nested("tmpfs", path("mnt"), "tmpfs", "size=1m");
    touch(path("mnt/on-tmpfs"));

    const Result r = walk(PathFilter({"cache", "*.tmp"}));

    EXPECT_EQ(r.files, (std::set<std::string>{"top", "a/one", "a/b/c/deep"}));
    EXPECT_EQ(r.skipped.at("a/loop"), WalkSkipKind::Symlink);
    EXPECT_EQ(r.skipped.at("a/outside"), WalkSkipKind::Symlink);
    EXPECT_EQ(r.skipped.at("a/fifo"), WalkSkipKind::Special);
    EXPECT_EQ(r.skipped.at("cache"), WalkSkipKind::Excluded);
    EXPECT_EQ(r.skipped.count("cache/x"), 0u);  // never entered
    EXPECT_EQ(r.skipped.at("a/b/skip.tmp"), WalkSkipKind::Excluded);
    EXPECT_EQ(r.skipped.at("mnt"), WalkSkipKind::OtherFilesystem);
}

TEST_P(TreeWalk, DeepTreesAreWalked) {
    fs::path p = path("");
    std::string rel;
    for (int i = 0; i < 300; ++i) {
        p /= "d";
        rel += rel.empty() ? "d" : "/d";
    }
    fs::create_directories(p);
    touch(p / "leaf");
    EXPECT_EQ(walk().files, (std::set<std::string>{rel + "/leaf"}));
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(TreeWalk);

// Subvolumes exist on btrfs only.
class TreeWalkBtrfs : public TreeWalk {};

TEST_P(TreeWalkBtrfs, DoesNotEnterNestedSubvolumes) {
    run_checked({"btrfs", "-q", "subvolume", "create", path("sub").string()});
    touch(path("sub/inside"));
    touch(path("outside"));
    const Result r = walk();
    EXPECT_EQ(r.files, (std::set<std::string>{"outside"}));
    EXPECT_EQ(r.skipped.at("sub"), WalkSkipKind::OtherFilesystem);
}

INSTANTIATE_TEST_SUITE_P(, TreeWalkBtrfs, ::testing::Values(FsKind::Btrfs), FsKindParamName{});

}  // namespace
}  // namespace rdd::test
