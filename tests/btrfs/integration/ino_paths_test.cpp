// (e) INO_PATHS returns every hard link; INO_LOOKUP gives directories; more names than the
// kernel's 4 KiB answer holds come from the ref items.
#include <algorithm>
#include <set>

#include "btrfs_fixture.hpp"
#include "reflinkdedup/btrfs/paths.hpp"

namespace rdd::btrfs::test {
namespace {

class InoPaths : public BtrfsTest {};

std::set<std::string> as_set(const std::vector<std::string>& v) {
    return {v.begin(), v.end()};
}

TEST_F(InoPaths, EveryHardLink) {
    const auto sv = create_subvolume("sv");
    std::filesystem::create_directories(sv / "a/b");
    write_text(sv / "a/b/original", "data");
    std::filesystem::create_hard_link(sv / "a/b/original", sv / "top-link");
    std::filesystem::create_hard_link(sv / "a/b/original", sv / "a/b/second in same dir");
    std::filesystem::create_hard_link(sv / "a/b/original", sv / "a/third");
    const UniqueFd fd = open_dir(sv);
    const std::uint64_t ino = ino_of(sv / "a/b/original");
    EXPECT_EQ(
        as_set(inode_paths(fd.get(), ino, sv)),
        (std::set<std::string>{"a/b/original", "top-link", "a/b/second in same dir", "a/third"}));

    // find-new's name: the first INODE_REF, i.e. the lowest parent directory (the root, 256).
    EXPECT_EQ(first_link_path(fd.get(), ino, sv), "top-link");
    EXPECT_EQ(directory_path(fd.get(), ino_of(sv / "a/b"), sv), "a/b/");
    EXPECT_EQ(directory_path(fd.get(), 256, sv), "");
    EXPECT_EQ(inode_paths(fd.get(), 256, sv), (std::vector<std::string>{"."}));
    EXPECT_EQ(inode_paths(fd.get(), ino_of(sv / "a/b"), sv), (std::vector<std::string>{"a/b"}));

    // Removing links shows at once.
    std::filesystem::remove(sv / "top-link");
    EXPECT_EQ(as_set(inode_paths(fd.get(), ino, sv)),
              (std::set<std::string>{"a/b/original", "a/b/second in same dir", "a/third"}));
    EXPECT_EQ(first_link_path(fd.get(), ino, sv), "a/third");  // directory a sorts before a/b
}

TEST_F(InoPaths, MoreNamesThanTheKernelAnswerHolds) {
    const auto sv = create_subvolume("sv");
    std::filesystem::create_directories(sv / "d1");
    std::filesystem::create_directories(sv / "d2");
    write_text(sv / "d1/target", "data");
    std::set<std::string> expected{"d1/target"};
    // 60 names of ~200 bytes: 12 KiB of paths, three times what INO_PATHS returns.
    for (int i = 0; i < 60; ++i) {
        const std::string name =
            std::string(i % 2 ? "d1/" : "d2/") + std::string(190, 'n') + std::to_string(i);
        std::filesystem::create_hard_link(sv / "d1/target", sv / name);
        expected.insert(name);
    }
    const UniqueFd fd = open_dir(sv);
    const auto paths = inode_paths(fd.get(), ino_of(sv / "d1/target"), sv);
    EXPECT_EQ(paths.size(), expected.size());
    EXPECT_EQ(as_set(paths), expected);
}

TEST_F(InoPaths, ManyLinksInOneDirectoryUseExtendedRefs) {
    // One directory's INODE_REF item fills up; further names go to INODE_EXTREF items.
    const auto sv = create_subvolume("sv");
    write_text(sv / "target", "data");
    std::set<std::string> expected{"target"};
    for (int i = 0; i < 200; ++i) {
        const std::string name = std::string(100, 'x') + std::to_string(i);
        std::filesystem::create_hard_link(sv / "target", sv / name);
        expected.insert(name);
    }
    const UniqueFd fd = open_dir(sv);
    EXPECT_EQ(as_set(inode_paths(fd.get(), ino_of(sv / "target"), sv)), expected);
}

TEST_F(InoPaths, NoSuchInode) {
    const auto sv = create_subvolume("sv");
    const UniqueFd fd = open_dir(sv);
    EXPECT_TRUE(inode_paths(fd.get(), 999999, sv).empty());
    EXPECT_FALSE(first_link_path(fd.get(), 999999, sv));
}

}  // namespace
}  // namespace rdd::btrfs::test
