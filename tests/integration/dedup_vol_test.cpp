// `reflinkdedup dedup-vol` on real btrfs and XFS: duplicates at any block offset are shared,
// contents and metadata stay, space is freed (per block on XFS, per whole extent on btrfs),
// a second run converges to nothing, read-only snapshots are sources only.
#include <filesystem>
#include <map>
#include <tuple>
#include <vector>

#include "cli_runner.hpp"
#include "kill_and_recover.hpp"
#include "support/file_checks.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::test {
namespace {

namespace fs = std::filesystem;
constexpr std::uint64_t kMiB = 1 << 20;

class DedupVol : public LoopFsTest {
protected:
    std::string db() { return (fs().temp_dir() / "catalog.sqlite").string(); }
    CliRun run(const fs::path& root, std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"dedup-vol", "--json", "--db", db(), "--state-dir",
                                      (fs().temp_dir() / "state").string()};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back(root.string());
        return run_reflinkdedup(args);
    }
    void copy(const fs::path& from, const fs::path& to) {
        run_checked({"cp", "--reflink=never", from.string(), to.string()});
    }
    // `prefix` random bytes, then `from` byte for byte (a pipe: no copy_file_range reflink).
    void shifted_copy(const fs::path& from, const fs::path& to, std::uint64_t prefix) {
        write_random_file(to, prefix, 99);
        run_checked({"sh", "-c", "cat '" + from.string() + "' | cat >> '" + to.string() + "'"});
    }
};

TEST_P(DedupVol, SharesDuplicatesAtAnyOffsetAndConverges) {
    fs::create_directories(path("m1"));
    fs::create_directories(path("m2"));
    write_random_file(path("m1/img"), 20 * kMiB, 1);
    copy(path("m1/img"), path("m2/img-renamed"));
    shifted_copy(path("m1/img"), path("m2/moved"), 128 * 1024);  // data moved by two blocks
    write_random_file(path("m1/log"), 10 * kMiB, 2);
    copy(path("m1/log"), path("m2/log"));
    run_checked({"sh", "-c", "head -c 3000000 /dev/urandom >> '" + path("m2/log").string() + "'"});
    fs().sync();
    std::map<std::string, std::pair<std::string, MetadataSnapshot>> before;
    for (const char* f : {"m1/img", "m2/img-renamed", "m2/moved", "m1/log", "m2/log"}) {
        before[f] = {sha256_file(path(f)), snapshot_metadata(path(f))};
    }
    const std::uint64_t free_before = fs().free_bytes();

    const CliRun r = run(fs().mount_point());

    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["bytes_shared"], 50 * kMiB);
    EXPECT_EQ(bytes_shared_with(path("m1/img"), path("m2/img-renamed")), 20 * kMiB);
    EXPECT_EQ(bytes_shared_with(path("m1/log"), path("m2/log")), 10 * kMiB);
    // The moved copy shares with img at an offset of 128 KiB: compare extent by extent.
    std::uint64_t moved_shared = 0;
    {
        const auto img = fiemap_extents(path("m1/img"));
        for (const PhysExtent& e : fiemap_extents(path("m2/moved"))) {
            for (const PhysExtent& i : img) {
                if (e.physical == i.physical + (e.logical - 128 * 1024 - i.logical) && e.logical >= 128 * 1024) {
                    moved_shared += std::min(e.length, i.length);
                    break;
                }
            }
        }
    }
    EXPECT_GE(moved_shared, 20 * kMiB - 64 * 1024);
    const std::uint64_t freed = fs().free_bytes() - free_before;
    // Every duplicate block: per block on XFS; on btrfs whole extents, the unshared parts of
    // partly shared ones moved out first (dedup_vol_space_test has the bookend cases).
    EXPECT_GE(freed, 49 * kMiB);
    for (const auto& [f, state] : before) {
        EXPECT_EQ(sha256_file(path(f)), state.first) << f;
        EXPECT_EQ(snapshot_metadata(path(f)), state.second) << f << describe_differences(state.second, snapshot_metadata(path(f)));
    }

    const CliRun again = run(fs().mount_point());
    ASSERT_EQ(again.process.exit_code, 0) << describe(again);
    EXPECT_EQ(again.json["dedupe_calls"], 0);
    EXPECT_EQ(again.json["scan"]["bytes_read"], 0);
}

// A directory renamed after the catalog was made: a btrfs incremental scan looks at changed
// inodes only (the directory), so the file rows keep the old path; dedup-vol opens btrfs files
// by handle and still shares them, moves included.
TEST_P(DedupVol, FilesUnderARenamedDirectoryAreStillShared) {
    fs::create_directories(path("old"));
    write_random_file(path("a"), 4 * kMiB, 5);
    copy(path("a"), path("old/b"));
    write_random_file(path("log"), 3 * kMiB, 6);
    copy(path("log"), path("old/log"));
    run_checked({"sh", "-c", "head -c 1000000 /dev/urandom >> '" + path("old/log").string() + "'"});
    fs().sync();
    const CliRun scan = run_reflinkdedup({"scan-vol", "--json", "--db", db(), fs().mount_point().string()});
    ASSERT_EQ(scan.process.exit_code, 0) << describe(scan);
    fs::rename(path("old"), path("new"));
    const std::string b_sum = sha256_file(path("new/b")), log_sum = sha256_file(path("new/log"));
    const MetadataSnapshot b_meta = snapshot_metadata(path("new/b"));

    const CliRun r = run(fs().mount_point());
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(bytes_shared_with(path("a"), path("new/b")), 4 * kMiB);
    EXPECT_EQ(bytes_shared_with(path("log"), path("new/log")), 3 * kMiB);
    EXPECT_EQ(sha256_file(path("new/b")), b_sum);
    EXPECT_EQ(sha256_file(path("new/log")), log_sum);
    EXPECT_EQ(snapshot_metadata(path("new/b")), b_meta) << describe_differences(b_meta, snapshot_metadata(path("new/b")));
}

TEST_P(DedupVol, DryRunPlansWithoutSharing) {
    write_random_file(path("a"), 4 * kMiB, 3);
    copy(path("a"), path("b"));
    fs().sync();
    const CliRun r = run(fs().mount_point(), {"--dry-run"});
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["bytes_dedupable"], 4 * kMiB);
    EXPECT_EQ(r.json["bytes_shared"], 0);
    EXPECT_EQ(bytes_shared_with(path("a"), path("b")), 0u);
}

// SIGKILL at 20 moments of an immutable-locked dedup-vol (each after some file was frozen):
// `recover` puts every flag back; contents, mode, size and mtime never change.
TEST_P(DedupVol, KilledImmutableRunsAreRepairedByRecover) {
    constexpr int kFiles = 16;
    std::vector<fs::path> files{path("src")};
    write_random_file(files[0], 8 * kMiB, 5);
    auto refresh_copies = [&] {  // fresh, unshared copies: every round has work to do
        for (int i = 1; i <= kFiles; ++i) {
            const fs::path f = path("copy" + std::to_string(i));
            if (files.size() <= static_cast<std::size_t>(i)) files.push_back(f);
            fs::remove(f);
            copy(files[0], f);
        }
        run_checked({"chattr", "+d", files[3].string()});  // a flag of its own, to be kept
        fs().sync();
    };
    const std::string state = (fs().temp_dir() / "state").string();
    const std::string sum = sha256_file(files[0]);
    refresh_copies();
    const KillStats k = kill_and_recover(
        {RDD_BINARY, "dedup-vol", "--lock=immutable", "--state-dir", state, "--db", db(), fs().mount_point().string()},
        files, state, 20,
        [&](int round) {
            if (round % 4 == 0) refresh_copies();
        },
        {"--db", db()});  // dedup-vol journals in its catalog
    const int killed = k.killed, repaired = k.repaired;
    EXPECT_GE(killed, 10);
    EXPECT_GE(repaired, 3);
    for (const auto& f : files) EXPECT_EQ(sha256_file(f), sum) << f;
    run_checked({"chattr", "-d", files[3].string()});
}

// More files than are kept open share one keeper under --lock=immutable: the keeper is opened
// again after its flag was set and cleared (which moves its ctime), and is still usable.
TEST_P(DedupVol, ImmutableLockReopensAKeeperItFroze) {
    write_random_file(path("f0"), 200000, 8);
    std::vector<fs::path> files{path("f0")};
    for (int i = 1; i < 80; ++i) {
        files.push_back(path("f" + std::to_string(i)));
        copy(files[0], files.back());
    }
    fs().sync();
    const std::string sum = sha256_file(files[0]);
    const CliRun r = run(fs().mount_point(), {"--lock=immutable"});
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["skipped_count"], 0);
    EXPECT_EQ(r.json["jobs_done"], 79);
    for (const auto& f : files) {
        EXPECT_EQ(bytes_shared_with(files[0], f), 200000u) << f;
        EXPECT_EQ(snapshot_metadata(f).inode_flags, snapshot_metadata(files[0]).inode_flags) << f;
    }
    EXPECT_EQ(sha256_file(files[79]), sum);
}

// Small identical files: XFS shares them; btrfs keeps them inline in metadata, where nothing
// can be shared: left out and counted, not "skipped" (a nightly run would never exit 0).
TEST_P(DedupVol, SmallInlineFilesAreLeftOutNotSkipped) {
    write_random_file(path("small-a"), 1000, 9);
    copy(path("small-a"), path("small-b"));
    fs().sync();
    const CliRun r = run(fs().mount_point());
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["skipped_count"], 0);
    if (GetParam() == FsKind::Btrfs) {
        EXPECT_EQ(r.json["files_inline"], 2);
        EXPECT_EQ(r.json["dedupe_calls"], 0);
    } else {
        EXPECT_EQ(r.json["files_inline"], 0);
        EXPECT_EQ(bytes_shared_with(path("small-a"), path("small-b")), 1000u);
    }
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(DedupVol);

// Read-only snapshots (btrfs): their files serve as sources; no extent of theirs ever moves.
class DedupVolBtrfs : public DedupVol {};

TEST_P(DedupVolBtrfs, ReadOnlySnapshotsAreSourcesOnly) {
    run_checked({"btrfs", "-q", "subvolume", "create", path("vol").string()});
    write_random_file(path("vol/a"), 4 * kMiB, 4);
    fs().sync();
    run_checked({"btrfs", "-q", "subvolume", "snapshot", "-r", path("vol").string(), path("snap").string()});
    // After the snapshot, vol/a is rewritten with the same bytes (new extents), and a new copy
    // appears: both should end up sharing the snapshot's data.
    copy(path("snap/a"), path("vol/a.tmp"));
    fs::rename(path("vol/a.tmp"), path("vol/a"));
    copy(path("snap/a"), path("vol/b"));
    fs().sync();
    // Where the snapshot's data lies (its SHARED flag may change: that is the point).
    auto placement = [&] {
        std::vector<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>> out;
        for (const PhysExtent& e : fiemap_extents(path("snap/a"))) out.emplace_back(e.logical, e.physical, e.length);
        return out;
    };
    const auto snap_placement = placement();

    ASSERT_EQ(run_reflinkdedup({"scan-vol", "--db", db(), path("snap")}).process.exit_code, 0);
    const CliRun r = run(path("vol"));

    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(placement(), snap_placement);  // no extent of the snapshot moved
    EXPECT_EQ(bytes_shared_with(path("snap/a"), path("vol/a")), 4 * kMiB);
    EXPECT_EQ(bytes_shared_with(path("snap/a"), path("vol/b")), 4 * kMiB);
}

INSTANTIATE_TEST_SUITE_P(, DedupVolBtrfs, ::testing::Values(FsKind::Btrfs), FsKindParamName{});

}  // namespace
}  // namespace rdd::test
