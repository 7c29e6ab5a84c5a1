// `reflinkdedup dedup-files` end to end on real loop-mounted btrfs and XFS: contents and
// metadata never change, FIEMAP shows the sharing, statfs shows the space.
#include <fcntl.h>
#include <linux/fiemap.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

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

struct FileState {
    std::string sha256;
    MetadataSnapshot meta;
    friend bool operator==(const FileState&, const FileState&) = default;
};

std::map<std::string, FileState> capture(const std::vector<fs::path>& files) {
    std::map<std::string, FileState> out;
    for (const auto& f : files) out[f.string()] = {sha256_file(f), snapshot_metadata(f)};
    return out;
}

void expect_unchanged(const std::map<std::string, FileState>& before) {
    for (const auto& [path, state] : before) {
        const FileState now{sha256_file(path), snapshot_metadata(path)};
        EXPECT_EQ(now.sha256, state.sha256) << path << ": content changed";
        EXPECT_EQ(now.meta, state.meta) << path << ": " << describe_differences(state.meta, now.meta);
    }
}

void independent_copy(const fs::path& from, const fs::path& to) {
    // An independent copy: its own extents, nothing shared.
    run_checked({"cp", "--reflink=never", from.string(), to.string()});
}

void append_random(const fs::path& path, std::uint64_t bytes, std::uint64_t seed) {
    const fs::path tmp = path.string() + ".tail";
    write_random_file(tmp, bytes, seed);
    std::ofstream out(path, std::ios::binary | std::ios::app);
    std::ifstream in(tmp, std::ios::binary);
    out << in.rdbuf();
    out.close();
    fs::remove(tmp);
}

void overwrite_block(const fs::path& path, std::uint64_t offset) {
    const int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const std::string junk(4096, 'x');
    ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), static_cast<off_t>(offset)), 4096);
    ASSERT_EQ(::fsync(fd), 0);
    ::close(fd);
}

class DedupFiles : public LoopFsTest {};

TEST_P(DedupFiles, IdenticalFilesShareEveryExtentAndFreeTheSpace) {
    const fs::path a = path("a"), b = path("b");
    write_random_file(a, 64 * kMiB, 1);
    independent_copy(a, b);
    // Metadata that must survive: mode, owner, old mtime, an xattr.
    ASSERT_EQ(::chmod(b.c_str(), 0640), 0);
    ASSERT_EQ(::chown(b.c_str(), 1234, 5678), 0);
    const timespec old_times[2] = {{1'600'000'000, 0}, {1'600'000'000, 123456789}};
    ASSERT_EQ(::utimensat(AT_FDCWD, b.c_str(), old_times, 0), 0);
    ASSERT_EQ(::setxattr(b.c_str(), "user.note", "keep", 4, 0), 0);
    fs().sync();
    ASSERT_EQ(bytes_shared_with(a, b), 0u);
    const auto before = capture({a, b});
    const std::uint64_t free_before = fs().free_bytes();

    const CliRun r = run_reflinkdedup({"dedup-files", "--json", a, b});

    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    ASSERT_TRUE(r.json.is_object()) << describe(r);
    EXPECT_EQ(bytes_shared_with(a, b), 64 * kMiB);  // every extent, same physical address
    for (const PhysExtent& e : fiemap_extents(b)) EXPECT_NE(e.flags & FIEMAP_EXTENT_SHARED, 0u);
    const std::uint64_t free_after = fs().free_bytes();
    EXPECT_GE(free_after - free_before, 63 * kMiB);
    EXPECT_EQ(r.json["bytes_shared"], 64 * kMiB);
    EXPECT_GE(r.json["bytes_freed"].get<std::int64_t>(), static_cast<std::int64_t>(63 * kMiB));
    EXPECT_EQ(r.json["files"], 2);
    EXPECT_TRUE(r.json["skipped"].empty());
    expect_unchanged(before);

    // A second run finds everything shared: it reads nothing and calls nothing.
    const CliRun again = run_reflinkdedup({"dedup-files", "--json", a, b});
    ASSERT_EQ(again.process.exit_code, 0) << describe(again);
    EXPECT_EQ(again.json["dedupe_calls"], 0);
    EXPECT_EQ(again.json["bytes_compared"], 0);
    EXPECT_EQ(again.json["bytes_already_shared"], 64 * kMiB);
    expect_unchanged(before);
}

TEST_P(DedupFiles, MoreThan127DestinationsAreAllShared) {
    // 257 KiB + 1000 B: not inline on btrfs, and a partial tail block shared because all the
    // files end there.
    constexpr std::uint64_t kSize = 257 * 1024 + 1000;
    const fs::path src = path("src");
    write_random_file(src, kSize, 2);
    std::vector<fs::path> all{src};
    std::vector<std::string> args{"dedup-files", "--json", src};
    for (int i = 0; i < 128; ++i) {
        all.push_back(path("copy" + std::to_string(i)));
        independent_copy(src, all.back());
        args.push_back(all.back());
    }
    fs().sync();
    const auto before = capture(all);

    const CliRun r = run_reflinkdedup(args);

    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["dedupe_calls"], 2);  // 127 + 1 destinations
    for (std::size_t i = 1; i < all.size(); ++i) EXPECT_EQ(bytes_shared_with(src, all[i]), kSize) << all[i];
    EXPECT_EQ(r.json["bytes_shared"], 128 * kSize);
    expect_unchanged(before);
}

TEST_P(DedupFiles, AppendedCopySharesTheCommonPrefix) {
    const fs::path src = path("log.1"), grown = path("log");
    write_random_file(src, 16 * kMiB, 3);
    independent_copy(src, grown);
    append_random(grown, kMiB + 100, 4);
    fs().sync();
    const auto before = capture({src, grown});
    const std::uint64_t free_before = fs().free_bytes();

    const CliRun r = run_reflinkdedup({"dedup-files", "--json", src, grown});

    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(bytes_shared_with(src, grown), 16 * kMiB);
    EXPECT_EQ(r.json["bytes_shared"], 16 * kMiB);
    if (GetParam() == FsKind::Xfs) {
        // XFS frees per block at once. btrfs keeps a partly referenced extent whole
        // ("bookend"); moving the tail out to free it is dedup-vol's job.
        EXPECT_GE(fs().free_bytes() - free_before, 15 * kMiB);
    }
    expect_unchanged(before);
}

TEST_P(DedupFiles, ACopyWithOneChangedBlockSharesAllTheRest) {
    const fs::path src = path("img"), edited = path("img.edited");
    write_random_file(src, 8 * kMiB, 5);
    independent_copy(src, edited);
    overwrite_block(edited, 4 * kMiB);
    fs().sync();
    const auto before = capture({src, edited});

    const CliRun r = run_reflinkdedup({"dedup-files", "--json", src, edited});

    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(bytes_shared_with(src, edited), 8 * kMiB - 4096);
    // The changed block keeps its own extent.
    for (const PhysExtent& e : fiemap_extents(edited)) {
        if (e.logical <= 4 * kMiB && 4 * kMiB < e.logical + e.length) {
            EXPECT_EQ(e.flags & FIEMAP_EXTENT_SHARED, 0u);
        }
    }
    expect_unchanged(before);
}

TEST_P(DedupFiles, DryRunReportsWithoutSharing) {
    const fs::path a = path("a"), b = path("b");
    write_random_file(a, 4 * kMiB, 6);
    independent_copy(a, b);
    fs().sync();
    const auto before = capture({a, b});

    const CliRun r = run_reflinkdedup({"dedup-files", "--json", "--dry-run", a, b});

    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["dry_run"], true);
    EXPECT_EQ(r.json["bytes_dedupable"], 4 * kMiB);
    EXPECT_EQ(r.json["bytes_shared"], 0);
    EXPECT_EQ(bytes_shared_with(a, b), 0u);
    expect_unchanged(before);
}

TEST_P(DedupFiles, ImmutableDestinationIsSkippedImmutableSourceServes) {
    const fs::path a = path("a"), b = path("b"), c = path("c");
    write_random_file(a, 2 * kMiB, 7);
    independent_copy(a, b);
    independent_copy(a, c);
    set_immutable(b, true);
    set_immutable(a, true);
    fs().sync();
    const auto before = capture({a, b, c});

    const CliRun r = run_reflinkdedup({"dedup-files", "--json", a, b, c});

    EXPECT_EQ(r.process.exit_code, 1) << describe(r);
    ASSERT_EQ(r.json["skipped"].size(), 1u) << describe(r);
    EXPECT_EQ(r.json["skipped"][0]["path"], b.string());
    EXPECT_NE(r.json["skipped"][0]["reason"].get<std::string>().find("immutable"), std::string::npos);
    EXPECT_EQ(bytes_shared_with(a, b), 0u);
    EXPECT_EQ(bytes_shared_with(a, c), 2 * kMiB);
    expect_unchanged(before);  // the immutable flags are still there
    set_immutable(a, false);
    set_immutable(b, false);
}

TEST_P(DedupFiles, AppendOnlyDestinationIsSharedAndKeepsItsFlag) {
    // The kernel accepts an append-only destination (only immutable is refused), and sharing
    // changes none of its bytes.
    const fs::path a = path("a"), log = path("log");
    write_random_file(a, 2 * kMiB, 9);
    independent_copy(a, log);
    run_checked({"chattr", "+a", log.string()});
    fs().sync();
    const auto before = capture({a, log});

    const CliRun r = run_reflinkdedup({"dedup-files", "--json", a, log});

    EXPECT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(bytes_shared_with(a, log), 2 * kMiB);
    expect_unchanged(before);  // FS_APPEND_FL included
    run_checked({"chattr", "-a", log.string()});
}

TEST_P(DedupFiles, HardLinksOfOneInodeAreNeverDedupedOntoEachOther) {
    const fs::path a = path("a"), link = path("a.link"), b = path("b");
    write_random_file(a, kMiB, 8);
    ASSERT_EQ(::link(a.c_str(), link.c_str()), 0);
    independent_copy(a, b);
    fs().sync();

    const CliRun r = run_reflinkdedup({"dedup-files", "--json", a, link, b});

    EXPECT_EQ(r.process.exit_code, 1) << describe(r);
    ASSERT_EQ(r.json["skipped"].size(), 1u);
    EXPECT_EQ(r.json["skipped"][0]["path"], link.string());
    EXPECT_EQ(bytes_shared_with(a, b), kMiB);
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(DedupFiles);

}  // namespace
}  // namespace rdd::test
