// (c) Subvolume listing: nested subvolumes, read-only snapshots with their flag and source UUID,
// listing from a plain directory, generations, and the typed errors.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "btrfs_fixture.hpp"
#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/paths.hpp"
#include "reflinkdedup/btrfs/tree_search.hpp"

namespace rdd::btrfs::test {
namespace {

class Subvolumes : public BtrfsTest {};

std::map<std::string, SubvolumeInfo> by_path(const std::vector<SubvolumeInfo>& list) {
    std::map<std::string, SubvolumeInfo> m;
    for (const auto& s : list) m.emplace(s.relative_path, s);
    return m;
}

TEST_F(Subvolumes, ListsNestedSubvolumesAndReadOnlySnapshots) {
    create_subvolume("sv1");
    create_subvolume("sv1/nested");
    create_subvolume("sv1/nested/deeper");
    std::filesystem::create_directories(path("sv1/plain/dir"));
    create_subvolume("sv1/plain/dir/inner");
    create_subvolume("other");
    write_text(path("sv1/file"), "x");
    snapshot("sv1", "snap-ro", /*read_only=*/true);
    snapshot("sv1", "snap-rw", /*read_only=*/false);

    const auto all = list_subvolumes(fs().mount_point());
    const auto m = by_path(all);
    ASSERT_EQ(all.size(), 8u);  // top level + 7
    ASSERT_EQ(all.front().relative_path, ".");
    EXPECT_EQ(all.front().id, 5u);
    EXPECT_EQ(all.front().absolute_path, fs().mount_point());
    for (const char* p : {"sv1", "sv1/nested", "sv1/nested/deeper", "sv1/plain/dir/inner", "other",
                          "snap-ro", "snap-rw"}) {
        ASSERT_EQ(m.count(p), 1u) << p;
        EXPECT_EQ(m.at(p).absolute_path, fs().mount_point() / p);
        EXPECT_EQ(m.at(p).id, subvolume_id(open_dir(fs().mount_point() / p).get(), p)) << p;
    }
    // Parents before children (pre-order), and parent ids that match.
    const auto pos = [&](const std::string& p) {
        return std::find_if(all.begin(), all.end(),
                            [&](const auto& s) { return s.relative_path == p; }) -
               all.begin();
    };
    EXPECT_LT(pos("sv1"), pos("sv1/nested"));
    EXPECT_LT(pos("sv1/nested"), pos("sv1/nested/deeper"));
    EXPECT_EQ(m.at("sv1/nested").parent_id, m.at("sv1").id);
    EXPECT_EQ(m.at("sv1/nested/deeper").parent_id, m.at("sv1/nested").id);
    EXPECT_EQ(m.at("sv1").parent_id, 5u);

    // Read-only flag and snapshot lineage.
    EXPECT_TRUE(m.at("snap-ro").read_only);
    EXPECT_FALSE(m.at("snap-rw").read_only);
    EXPECT_FALSE(m.at("sv1").read_only);
    EXPECT_TRUE(m.at("snap-ro").is_snapshot());
    EXPECT_EQ(m.at("snap-ro").parent_uuid, m.at("sv1").uuid);
    EXPECT_EQ(m.at("snap-rw").parent_uuid, m.at("sv1").uuid);
    EXPECT_FALSE(m.at("sv1").is_snapshot());
    EXPECT_NE(m.at("snap-ro").uuid, m.at("sv1").uuid);
    EXPECT_FALSE(is_nil(m.at("sv1").uuid));
    // Cross-check with btrfs-progs.
    const auto show = run_checked({"btrfs", "subvolume", "show", path("snap-ro").string()});
    EXPECT_NE(show.out.find(to_string(m.at("snap-ro").uuid)), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("readonly"), std::string::npos);
    const auto prop = run_checked({"btrfs", "property", "get", path("snap-ro").string(), "ro"});
    EXPECT_EQ(prop.out, "ro=true\n");

    // Generations: the snapshot was created after sv1's last change.
    EXPECT_GE(m.at("snap-ro").otransid, m.at("sv1").ctransid);
    EXPECT_GT(m.at("sv1").generation, 0u);
}

TEST_F(Subvolumes, ListingFromASubvolumeOrAPlainDirectory) {
    create_subvolume("sv1");
    create_subvolume("sv1/nested");
    std::filesystem::create_directories(path("sv1/plain/dir"));
    create_subvolume("sv1/plain/dir/inner");
    create_subvolume("sv1/plain/dir/inner/innermost");

    const auto from_sv1 = list_subvolumes(path("sv1"));
    const auto m = by_path(from_sv1);
    ASSERT_EQ(from_sv1.size(), 4u);
    EXPECT_EQ(from_sv1.front().relative_path, ".");
    EXPECT_EQ(from_sv1.front().absolute_path, path("sv1"));
    EXPECT_TRUE(m.count("nested"));
    EXPECT_TRUE(m.count("plain/dir/inner"));
    EXPECT_TRUE(m.count("plain/dir/inner/innermost"));

    // From a plain directory: its containing subvolume, then only what lies below it.
    const auto from_dir = list_subvolumes(path("sv1/plain"));
    ASSERT_EQ(from_dir.size(), 3u);
    EXPECT_EQ(from_dir[0].relative_path, "..");
    EXPECT_EQ(from_dir[0].absolute_path, path("sv1"));
    EXPECT_EQ(from_dir[0].id, m.at(".").id);
    EXPECT_EQ(from_dir[1].relative_path, "dir/inner");
    EXPECT_EQ(from_dir[1].absolute_path, path("sv1/plain/dir/inner"));
    EXPECT_EQ(from_dir[2].relative_path, "dir/inner/innermost");
    const auto deeper = list_subvolumes(path("sv1/plain/dir"));
    EXPECT_EQ(deeper[0].relative_path, "../..");
    EXPECT_EQ(deeper.size(), 3u);
}

TEST_F(Subvolumes, SubvolumeAtAndGenerations) {
    const auto sv = create_subvolume("sv");
    snapshot("sv", "ro", true);
    const SubvolumeInfo info = subvolume_at(sv);
    EXPECT_EQ(info.relative_path, ".");
    EXPECT_FALSE(info.read_only);
    EXPECT_TRUE(subvolume_at(path("ro")).read_only);
    EXPECT_EQ(subvolume_at(fs().mount_point()).id, 5u);

    write_text(sv / "f", "data");
    const UniqueFd fd = open_dir(sv);
    const std::uint64_t g = committed_generation(fd.get(), sv);
    EXPECT_EQ(g, progs_generation(sv));
    EXPECT_EQ(subvolume_at(sv).generation, g);
    // Any file inside works for the generation, not only the root.
    const UniqueFd file(::open((sv / "f").c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_EQ(subvolume_generation(file.get(), sv / "f"), g);
    // A change in the running transaction is not in the committed generation yet.
    write_text(sv / "g", "more");
    EXPECT_EQ(subvolume_generation(fd.get(), sv), g);
    EXPECT_GT(committed_generation(fd.get(), sv), g);

    EXPECT_TRUE(is_subvolume_root(fd.get(), sv));
    std::filesystem::create_directories(sv / "dir");
    EXPECT_FALSE(is_subvolume_root(open_dir(sv / "dir").get(), sv / "dir"));
}

TEST_F(Subvolumes, TypedErrors) {
    const auto sv = create_subvolume("sv");
    std::filesystem::create_directories(sv / "dir");
    EXPECT_THROW((void)subvolume_at(sv / "dir"), NotSubvolumeError);
    EXPECT_THROW((void)subvolume_at("/proc"), NotBtrfsError);
    EXPECT_THROW((void)list_subvolumes("/proc"), NotBtrfsError);
    EXPECT_THROW((void)list_subvolumes(sv / "missing"), SysError);
}

// Runs `body` as an unprivileged user in a child process; returns its exit code.
template <typename Body>
int as_nobody(Body body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        int code = 0;
        if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
            code = 90;
        } else {
            code = body();
        }
        ::_exit(code);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

TEST_F(Subvolumes, WithoutRootATypedNeedsRootError) {
    const auto sv = create_subvolume("sv");
    create_subvolume("sv/nested");
    write_text(sv / "f", "x");
    const UniqueFd fd = open_dir(sv);  // opened as root, used by the unprivileged child
    const std::string where = sv.string();
    const int search = as_nobody([&] {
        try {
            SearchKey key;
            TreeSearch s(fd.get(), key, where);
            (void)s.next();
            return 1;
        } catch (const NeedsRootError& e) {
            return std::string(e.what()) == where + ": tree search needs root (CAP_SYS_ADMIN)" &&
                           e.err() == EPERM
                       ? 0
                       : 2;
        } catch (...) {
            return 3;
        }
    });
    EXPECT_EQ(search, 0);
    const int paths = as_nobody([&] {
        try {
            (void)inode_paths(fd.get(), 257, where);
            return 1;
        } catch (const NeedsRootError&) {
            return 0;
        } catch (...) {
            return 3;
        }
    });
    EXPECT_EQ(paths, 0);
    // The generation comes from an unprivileged ioctl.
    const int generation = as_nobody([&] {
        try {
            return subvolume_generation(fd.get(), where) > 0 ? 0 : 1;
        } catch (...) {
            return 3;
        }
    });
    EXPECT_EQ(generation, 0);
}

}  // namespace
}  // namespace rdd::btrfs::test
