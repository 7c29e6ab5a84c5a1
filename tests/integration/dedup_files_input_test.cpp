// `reflinkdedup dedup-files` with input it must refuse or skip: one clear line, the documented
// exit code, and nothing changed anywhere.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "cli_runner.hpp"
#include "support/file_checks.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::test {
namespace {

namespace fs = std::filesystem;
constexpr std::uint64_t kMiB = 1 << 20;

class DedupFilesInput : public LoopFsTest {
protected:
    void SetUp() override {
        LoopFsTest::SetUp();
        if (HasFatalFailure() || IsSkipped()) return;
        src_ = path("src");
        twin_ = path("twin");
        write_random_file(src_, 2 * kMiB, 11);
        run_checked({"cp", "--reflink=never", src_.string(), twin_.string()});
        fs().sync();
        sums_[src_] = sha256_file(src_);
        sums_[twin_] = sha256_file(twin_);
        meta_[src_] = snapshot_metadata(src_);
        meta_[twin_] = snapshot_metadata(twin_);
    }

    // Nothing was shared and nothing changed on the test filesystem.
    void expect_nothing_changed() {
        EXPECT_EQ(bytes_shared_with(src_, twin_), 0u);
        for (const auto& [p, sum] : sums_) {
            EXPECT_EQ(sha256_file(p), sum) << p;
            EXPECT_EQ(snapshot_metadata(p), meta_[p]) << p;
        }
    }

    // Exit 2: exactly one line on stderr that names the path and says why; nothing on stdout.
    void expect_input_error(const CliRun& r, const std::string& path, const std::string& why) {
        EXPECT_EQ(r.process.exit_code, 2) << describe(r);
        EXPECT_EQ(std::count(r.process.err.begin(), r.process.err.end(), '\n'), 1) << describe(r);
        EXPECT_NE(r.process.err.find(path), std::string::npos) << describe(r);
        EXPECT_NE(r.process.err.find(why), std::string::npos) << describe(r);
        EXPECT_TRUE(r.process.out.empty()) << describe(r);
        expect_nothing_changed();
    }

    // Exit 1: the file is listed as skipped with the reason; the run itself went through.
    void expect_skipped(const CliRun& r, const std::string& path, const std::string& why) {
        EXPECT_EQ(r.process.exit_code, 1) << describe(r);
        ASSERT_TRUE(r.json.is_object()) << describe(r);
        ASSERT_EQ(r.json["skipped"].size(), 1u) << describe(r);
        EXPECT_EQ(r.json["skipped"][0]["path"], path);
        EXPECT_NE(r.json["skipped"][0]["reason"].get<std::string>().find(why), std::string::npos)
            << describe(r);
        expect_nothing_changed();
    }

    // A tmpfs inside the fixture's own temp dir (unmounted by the Mount guard).
    std::unique_ptr<Mount> mount_tmpfs() {
        const fs::path where = fs().temp_dir() / "tmpfs";
        fs::create_directories(where);
        return std::make_unique<Mount>("tmpfs", where, "tmpfs", "size=16m");
    }

    fs::path src_, twin_;
    std::map<fs::path, std::string> sums_;
    std::map<fs::path, MetadataSnapshot> meta_;
};

TEST_P(DedupFilesInput, SourceOnTmpfsIsAnInputError) {
    const auto tmpfs = mount_tmpfs();
    const fs::path a = tmpfs->target() / "a", b = tmpfs->target() / "b";
    write_random_file(a, 8192, 1);
    write_random_file(b, 8192, 1);
    expect_input_error(run_reflinkdedup({"dedup-files", a, b}), a,
                       "on tmpfs, which cannot share extents; reflinkdedup needs btrfs or XFS with reflink=1");
}

TEST_P(DedupFilesInput, DestinationOnTmpfsIsAnInputError) {
    const auto tmpfs = mount_tmpfs();
    const fs::path t = tmpfs->target() / "t";
    run_checked({"cp", src_.string(), t.string()});
    expect_input_error(run_reflinkdedup({"dedup-files", src_, twin_, t}), t, "on tmpfs");
}

TEST_P(DedupFilesInput, FileOnAnotherReflinkFilesystemIsNamed) {
    LoopFilesystem other(GetParam(), LoopFsOptions{});
    const fs::path o = other.path("o");
    run_checked({"cp", src_.string(), o.string()});
    expect_input_error(run_reflinkdedup({"dedup-files", src_, twin_, o}), o, "on another filesystem");
}

TEST_P(DedupFilesInput, MissingSourceIsAnInputError) {
    const fs::path missing = path("missing");
    expect_input_error(run_reflinkdedup({"dedup-files", missing, twin_}), missing, "no such file");
}

TEST_P(DedupFilesInput, MissingDestinationIsSkipped) {
    const fs::path missing = path("missing");
    expect_skipped(run_reflinkdedup({"dedup-files", "--json", src_, missing}), missing, "no such file");
}

TEST_P(DedupFilesInput, DirectoryIsSkipped) {
    const fs::path dir = path("dir");
    fs::create_directory(dir);
    expect_skipped(run_reflinkdedup({"dedup-files", "--json", src_, dir}), dir, "directory");
}

TEST_P(DedupFilesInput, SymlinkIsSkippedAndNotFollowed) {
    const fs::path link = path("link");
    fs::create_symlink(twin_, link);
    expect_skipped(run_reflinkdedup({"dedup-files", "--json", src_, link}), link, "symbolic link");
}

TEST_P(DedupFilesInput, FifoIsSkippedWithoutBlocking) {
    const fs::path fifo = path("fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    expect_skipped(run_reflinkdedup({"dedup-files", "--json", src_, fifo}), fifo, "FIFO");
}

TEST_P(DedupFilesInput, UsageErrorsExitTwo) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"dedup-files"}, {"dedup-files", src_.string()},
          {"dedup-files", "--no-such-option", src_.string(), twin_.string()}, {"no-such-command"}}) {
        const CliRun r = run_reflinkdedup(args);
        EXPECT_EQ(r.process.exit_code, 2) << describe(r);
        EXPECT_EQ(std::count(r.process.err.begin(), r.process.err.end(), '\n'), 1) << describe(r);
    }
    expect_nothing_changed();
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(DedupFilesInput);

// NOCOW (chattr +C) exists on btrfs only.
class DedupFilesNocow : public DedupFilesInput {};

TEST_P(DedupFilesNocow, NocowFileIsSkipped) {
    const fs::path nocow = path("nocow");
    { std::ofstream(nocow.string()).flush(); }
    set_nocow(nocow);  // only takes effect on an empty file
    run_checked({"dd", "if=" + src_.string(), "of=" + nocow.string(), "bs=1M", "conv=notrunc", "status=none"});
    fs().sync();
    const std::string sum = sha256_file(nocow);
    expect_skipped(run_reflinkdedup({"dedup-files", "--json", src_, nocow}), nocow, "NOCOW");
    EXPECT_EQ(bytes_shared_with(src_, nocow), 0u);
    EXPECT_EQ(sha256_file(nocow), sum);
}

// Files in read-only snapshots can be modified through an O_RDONLY fd as root: the check is ours.
TEST_P(DedupFilesNocow, ReadOnlySnapshotDestinationIsSkippedButServesAsSource) {
    run_checked({"btrfs", "-q", "subvolume", "create", path("vol").string()});
    run_checked({"cp", "--reflink=never", src_.string(), path("vol/f").string()});
    fs().sync();
    run_checked({"btrfs", "-q", "subvolume", "snapshot", "-r", path("vol").string(), path("snap").string()});
    const auto snap_extents = fiemap_extents(path("snap/f"));
    expect_skipped(run_reflinkdedup({"dedup-files", "--json", src_, path("snap/f")}), path("snap/f"),
                   "read-only btrfs snapshot");
    EXPECT_EQ(fiemap_extents(path("snap/f")), snap_extents);
    // As a source it shares with a writable copy in a nested subvolume.
    const CliRun r = run_reflinkdedup({"dedup-files", "--json", path("snap/f"), path("vol/f")});
    EXPECT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(bytes_shared_with(path("snap/f"), path("vol/f")), 2 * kMiB);
}

INSTANTIATE_TEST_SUITE_P(, DedupFilesNocow, ::testing::Values(FsKind::Btrfs), FsKindParamName{});

}  // namespace
}  // namespace rdd::test
