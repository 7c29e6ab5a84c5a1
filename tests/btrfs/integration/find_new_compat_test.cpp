// (a) `reflinkdedup find-new` prints exactly what `btrfs subvolume find-new` (btrfs-progs 6.2)
// prints, for several generations; and its exit codes and messages for bad input.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "btrfs_fixture.hpp"
#include "support/file_checks.hpp"

namespace rdd::btrfs::test {
namespace {

rdd::test::ProcessResult ours(const std::vector<std::string>& args) {
    std::vector<std::string> argv{RDD_BINARY, "find-new"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv);
}

rdd::test::ProcessResult progs(const std::filesystem::path& subvol, const std::string& gen) {
    return run_process({"btrfs", "subvolume", "find-new", subvol.string(), gen});
}

class FindNewCompat : public BtrfsTest {
protected:
    // Both tools on the same state; they must agree byte for byte.
    void expect_same(const std::filesystem::path& subvol, std::uint64_t gen) {
        const std::string g = std::to_string(gen);
        const auto theirs = progs(subvol, g);
        const auto mine = ours({subvol.string(), g});
        ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
        ASSERT_EQ(mine.exit_code, 0) << mine.err;
        EXPECT_EQ(mine.out, theirs.out) << "find-new " << subvol << " " << g;
        EXPECT_EQ(mine.err, "");
    }

    void fallocate_file(const std::filesystem::path& p, off_t length) {
        const UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        if (!fd) throw_errno("open", p);
        ASSERT_EQ(::posix_fallocate(fd.get(), 0, length), 0);
    }
};

TEST_F(FindNewCompat, SameOutputAsBtrfsProgsAtEveryGeneration) {
    const auto sv = create_subvolume("sv");
    rdd::test::write_random_file(path("top-level-file"), 12288, 1);
    std::filesystem::create_directories(sv / "dir/sub");
    std::filesystem::create_directories(sv / "zdir");
    run_checked({"btrfs", "property", "set", (sv / "zdir").string(), "compression", "zstd"});

    // Round 1: regular, inline, sparse, preallocated, compressed, names with spaces, hard links.
    rdd::test::write_random_file(sv / "dir/a", 200 * 1024, 2);
    write_text(sv / "dir/sub/b", "hello\n");
    rdd::test::write_random_file(sv / "name with spaces", 8192, 3);
    {
        const UniqueFd fd(::open((sv / "sparse").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        ASSERT_TRUE(fd);
        ASSERT_EQ(::ftruncate(fd.get(), 1 << 20), 0);
        const std::string block(4096, 's');
        ASSERT_EQ(::pwrite(fd.get(), block.data(), block.size(), 512 * 1024), 4096);
    }
    fallocate_file(sv / "prealloc", 1 << 20);
    write_text(sv / "zdir/compressible", std::string(256 * 1024, 'z'));
    write_text(sv / "zdir/small-compressible", std::string(3000, 'q'));
    std::filesystem::create_hard_link(sv / "dir/a", sv / "zz-link-to-a");  // parent 256 sorts first
    std::filesystem::create_hard_link(sv / "dir/sub/b", sv / "dir/sub/b2");
    // Enough items that both tools need many search calls (btrfs-progs' buffer is 4 KiB).
    std::filesystem::create_directories(sv / "many");
    for (int i = 0; i < 3000; ++i)
        write_text(sv / "many" / ("f" + std::to_string(i)), std::to_string(i));
    const std::uint64_t g1 = progs_generation(sv);

    // Round 2: append, overwrite in the middle, a new file, a write into the preallocation.
    write_text(sv / "dir/a", std::string(5000, 'x'), /*append=*/true);
    overwrite(sv / "name with spaces", 4096, 100, 'o');
    write_text(sv / "dir/c", "new in round two\n");
    overwrite(sv / "prealloc", 65536, 8192, 'p');
    const std::uint64_t g2 = progs_generation(sv);

    // Round 3: a new directory tree and a truncation.
    std::filesystem::create_directories(sv / "new/deeper");
    rdd::test::write_random_file(sv / "new/deeper/d", 70000, 4);
    std::filesystem::resize_file(sv / "dir/a", 100 * 1024);
    const std::uint64_t g3 = progs_generation(sv);
    ASSERT_LT(g1, g2);
    ASSERT_LT(g2, g3);

    // Sanity: the listing really exercises every flag btrfs-progs prints.
    const std::string all = progs(sv, "0").out;
    for (const char* flag :
         {"flags NONE ", "flags INLINE ", "flags PREALLOC ", "flags COMPRESS "}) {
        EXPECT_NE(all.find(flag), std::string::npos) << flag << " missing from\n" << all;
    }

    for (const std::uint64_t gen : {std::uint64_t{0}, std::uint64_t{1}, g1 - 1, g1, g1 + 1, g2,
                                    g2 + 1, g3, g3 + 1, g3 + 1000, std::uint64_t{1} << 40}) {
        expect_same(sv, gen);
    }
    expect_same(fs().mount_point(), 0);  // the top-level subvolume (id 5)
    expect_same(fs().mount_point(), g1);

    const auto snap = snapshot("sv", "snap-ro", /*read_only=*/true);
    expect_same(snap, 0);
    expect_same(snap, g3);
}

TEST_F(FindNewCompat, HexGenerationMeansTheSame) {
    const auto sv = create_subvolume("sv");
    write_text(sv / "f", "x");
    const std::uint64_t g = progs_generation(sv);
    char hex[32];
    std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(g));
    EXPECT_EQ(ours({sv.string(), hex}).out, progs(sv, hex).out);
}

TEST_F(FindNewCompat, InputErrorsExitWithTwo) {
    const auto sv = create_subvolume("sv");
    std::filesystem::create_directories(sv / "plain-dir");
    write_text(sv / "file", "x");

    const auto not_number = ours({sv.string(), "abc"});
    EXPECT_EQ(not_number.exit_code, 2) << not_number.err;
    EXPECT_NE(not_number.err.find("GEN 'abc'"), std::string::npos) << not_number.err;
    EXPECT_EQ(ours({sv.string(), "12x"}).exit_code, 2);
    EXPECT_EQ(ours({sv.string(), ""}).exit_code, 2);
    EXPECT_EQ(ours({sv.string(), "-1"}).exit_code, 2);
    EXPECT_EQ(ours({sv.string(), "010"}).exit_code, 2);  // octal to btrfs-progs: refused
    EXPECT_EQ(ours({sv.string(), "99999999999999999999999"}).exit_code, 2);
    EXPECT_EQ(ours({sv.string()}).exit_code, 2);
    EXPECT_EQ(ours({sv.string(), "1", "2"}).exit_code, 2);
    EXPECT_EQ(ours({"--no-such-option", sv.string(), "1"}).exit_code, 2);

    const auto not_subvol = ours({(sv / "plain-dir").string(), "0"});
    EXPECT_EQ(not_subvol.exit_code, 2);
    EXPECT_NE(not_subvol.err.find("not a btrfs subvolume"), std::string::npos) << not_subvol.err;
    EXPECT_EQ(ours({(sv / "file").string(), "0"}).exit_code, 2);
    EXPECT_EQ(ours({(sv / "missing").string(), "0"}).exit_code, 2);

    const auto not_btrfs = ours({"/proc", "0"});
    EXPECT_EQ(not_btrfs.exit_code, 2);
    EXPECT_NE(not_btrfs.err.find("not on btrfs"), std::string::npos) << not_btrfs.err;
    // One line each.
    EXPECT_EQ(std::count(not_btrfs.err.begin(), not_btrfs.err.end(), '\n'), 1);

    const auto help = ours({"--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("--all-changes"), std::string::npos);
}

TEST_F(FindNewCompat, WithoutRootOneClearLineAndExitFive) {
    const auto sv = create_subvolume("sv");
    write_text(sv / "f", "x");
    // Let an unprivileged user reach the mount point (the fixture's own private directory).
    std::filesystem::permissions(fs().temp_dir(), std::filesystem::perms::owner_all |
                                                      std::filesystem::perms::others_exec |
                                                      std::filesystem::perms::group_exec);
    const auto r = run_process({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                RDD_BINARY, "find-new", sv.string(), "0"});
    EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "reflinkdedup: " + sv.string() + ": tree search needs root (CAP_SYS_ADMIN)\n");
    // btrfs-progs cannot do it either (KERNEL-FACTS §5).
    const auto theirs = run_process({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                     "btrfs", "subvolume", "find-new", sv.string(), "0"});
    EXPECT_NE(theirs.exit_code, 0);
}

}  // namespace
}  // namespace rdd::btrfs::test
