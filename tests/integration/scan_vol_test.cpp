// `reflinkdedup scan-vol` on real btrfs and XFS: one catalog row per inode with digests equal to
// an independent computation, rescans that read only what changed, deleted files gone, and the
// catalog's own failure modes mapped to their exit codes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "scan_vol_fixture.hpp"
#include "cli_runner.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/fs/file_identity.hpp"
#include "reflinkdedup/fs/regular_file.hpp"
#include "support/file_checks.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::test {
namespace {

namespace fs = std::filesystem;
using ScanVol = ScanVolFixture;

TEST_P(ScanVol, OneRowPerInodeWithDigestsEqualToAnIndependentComputation) {
    fs::create_directories(path("d/e"));
    write_random_file(path("d/a"), (1 << 20) + 123, 1);
    run_checked({"cp", "--reflink=never", path("d/a").string(), path("d/e/a-copy").string()});
    ASSERT_EQ(::link(path("d/a").c_str(), path("hardlink").c_str()), 0);
    run_checked({"dd", "if=/dev/zero", "of=" + path("zeros").string(), "bs=64k", "count=4", "status=none"});
    run_checked({"truncate", "-s", "50M", path("sparse").string()});
    run_checked({"dd", "if=" + path("d/a").string(), "of=" + path("sparse").string(), "bs=64k", "count=1",
                 "seek=300", "conv=notrunc", "status=none"});
    write_text(path("empty"), "");
    fs().sync();

    const CliRun r = scan();

    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["files_seen"], 6);    // the hard link is met twice, the empty file skipped
    EXPECT_EQ(r.json["files_hashed"], 4);  // a, a-copy, zeros, sparse: the hard link once
    EXPECT_EQ(catalog_files(), 4u);
    // The 50 MiB sparse file costs one block: holes are never read.
    EXPECT_EQ(r.json["bytes_read"], 2 * ((1 << 20) + 123) + 4 * 65536 + 65536);
    for (const char* f : {"d/a", "d/e/a-copy", "zeros", "sparse"}) expect_blocks_match(path(f));
    EXPECT_EQ(row(path("d/a"))->content_digest, row(path("d/e/a-copy"))->content_digest);
    EXPECT_NE(row(path("d/a"))->content_digest, row(path("zeros"))->content_digest);
    EXPECT_EQ(row(path("hardlink"))->id, row(path("d/a"))->id);

    struct stat st {};
    ASSERT_EQ(::stat(db().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);  // digests of everyone's files are private
}

TEST_P(ScanVol, ARescanWithNothingChangedReadsNothing) {
    write_random_file(path("a"), 3 << 20, 2);
    write_random_file(path("b"), 100, 3);
    fs().sync();
    ASSERT_EQ(scan().process.exit_code, 0);
    const CliRun again = scan();
    ASSERT_EQ(again.process.exit_code, 0) << describe(again);
    EXPECT_EQ(again.json["bytes_read"], 0);
    EXPECT_EQ(again.json["files_hashed"], 0);
    // XFS: both files looked at and found unchanged. btrfs: the tree search says no inode
    // changed, so no file is even looked at.
    const bool btrfs = GetParam() == FsKind::Btrfs;
    EXPECT_EQ(again.json["files_unchanged"], btrfs ? 0 : 2);
    EXPECT_EQ(again.json["volumes"][0]["mode"], btrfs ? "incremental" : "full");
}

TEST_P(ScanVol, AfterChurnExactlyTheChangedFilesAreRehashedAndTheGoneOnesLeave) {
    for (int i = 1; i <= 6; ++i) write_random_file(path("f" + std::to_string(i)), 200'000, static_cast<std::uint64_t>(i));
    fs().sync();
    ASSERT_EQ(scan().process.exit_code, 0);
    const auto f3_old = row(path("f3"));

    run_checked({"truncate", "-s", "1000", path("f1").string()});                // truncated
    run_checked({"touch", "-d", "2001-01-01", path("f2").string()});             // touched
    write_random_file(path("new"), 150'000, 40);
    fs::rename(path("new"), path("f3"));                                          // replaced
    fs::rename(path("f4"), path("f4-renamed"));                                   // renamed
    fs::remove(path("f5"));                                                       // deleted
    write_random_file(path("f7"), 70'000, 41);                                    // added
    fs().sync();

    const CliRun r = scan();

    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["files_hashed"], 4);     // f1, f2, the new f3, f7
    // f4 (renamed: same inode) and, on XFS, f6 (btrfs' tree search does not return it at all).
    EXPECT_EQ(r.json["files_unchanged"], GetParam() == FsKind::Btrfs ? 1 : 2);
    EXPECT_EQ(r.json["files_deleted"], 2);    // the old f3 inode and f5
    // Every byte of the changed files is read or, on btrfs, kept where the touched file's full
    // blocks still lie where they were hashed.
    const std::uint64_t reused = GetParam() == FsKind::Btrfs ? 3 * kBlock : 0;
    EXPECT_EQ(r.json["bytes_reused"], reused);
    EXPECT_EQ(r.json["bytes_read"], 1000 + 200'000 + 150'000 + 70'000 - reused);
    EXPECT_EQ(catalog_files(), 6u);           // no stale or duplicate identity rows
    EXPECT_EQ(row(path("f4-renamed"))->path, "f4-renamed");
    const auto cat = catalog::Catalog::open_reader(db());
    EXPECT_FALSE(cat.file(f3_old->id).has_value());
    for (const char* f : {"f1", "f2", "f3", "f4-renamed", "f6", "f7"}) expect_blocks_match(path(f));
}

TEST_P(ScanVol, ExcludesAndMinSizeLeaveFilesOut) {
    fs::create_directories(path("cache/x"));
    write_random_file(path("cache/x/a"), 100'000, 5);
    write_random_file(path("keep"), 100'000, 6);
    write_random_file(path("t.tmp"), 100'000, 7);
    write_random_file(path("tiny"), 100, 8);
    fs().sync();
    const CliRun r = scan({"--exclude", "cache", "--exclude", "*.tmp", "--min-size", "4K"});
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["files_hashed"], 1);
    EXPECT_TRUE(row(path("keep")).has_value());
    EXPECT_FALSE(row(path("t.tmp")).has_value());
    EXPECT_FALSE(row(path("tiny")).has_value());
    EXPECT_FALSE(row(path("cache/x/a")).has_value());
}

TEST_P(ScanVol, ThePreadFallbackBuildsTheSameCatalog) {
    write_random_file(path("a"), (5 << 20) + 7, 9);
    fs().sync();
    const CliRun r = scan({"--io", "pread"});
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["engine"], "pread");
    expect_blocks_match(path("a"));
}

TEST_P(ScanVol, ABusyCatalogExitsThreeAfterWaiting) {
    write_random_file(path("a"), 1000, 10);
    ASSERT_EQ(scan().process.exit_code, 0);
    catalog::OpenOptions o;
    const auto holder = catalog::Catalog::open_writer(db(), o);
    const auto t0 = std::chrono::steady_clock::now();
    const CliRun r = scan({"--wait", "1s"});
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(r.process.exit_code, 3) << describe(r);
    EXPECT_GE(waited, std::chrono::milliseconds(900));
    EXPECT_EQ(std::count(r.process.err.begin(), r.process.err.end(), '\n'), 1) << describe(r);
}

TEST_P(ScanVol, ACatalogFromANewerVersionIsRefusedAndLeftAlone) {
    write_random_file(path("a"), 1000, 11);
    ASSERT_EQ(scan().process.exit_code, 0);
    {
        auto conn = catalog::Connection(db(), catalog::Connection::Mode::read_write);
        conn.exec("PRAGMA user_version = 999");
    }
    const std::string before = sha256_file(db());
    const CliRun r = scan();
    EXPECT_EQ(r.process.exit_code, 2) << describe(r);
    EXPECT_NE(r.process.err.find("999"), std::string::npos) << describe(r);
    EXPECT_EQ(sha256_file(db()), before);
}

TEST_P(ScanVol, BadInputExitsTwo) {
    EXPECT_EQ(run_reflinkdedup({"scan-vol"}).process.exit_code, 2);
    EXPECT_EQ(run_reflinkdedup({"scan-vol", "--block-size", "5000", fs().mount_point()}).process.exit_code, 2);
    EXPECT_EQ(run_reflinkdedup({"scan-vol", "--db", db(), "/proc"}).process.exit_code, 2);
    EXPECT_EQ(run_reflinkdedup({"scan-vol", "--db", db(), path("missing")}).process.exit_code, 2);
    write_random_file(path("file"), 10, 1);
    EXPECT_EQ(run_reflinkdedup({"scan-vol", "--db", db(), path("file")}).process.exit_code, 2);
    // A catalog keeps its block size: another one needs --reset-block-size.
    ASSERT_EQ(scan().process.exit_code, 0);
    const auto scan_with = [&](std::vector<std::string> a) {  // scan() itself passes --block-size 64K
        a.insert(a.begin(), {"scan-vol", "--json", "--db", db()});
        a.push_back(fs().mount_point().string());
        return run_reflinkdedup(a);
    };
    const CliRun other = scan_with({"--block-size", "128K"});
    EXPECT_EQ(other.process.exit_code, 2) << describe(other);
    EXPECT_NE(other.process.err.find("--reset-block-size"), std::string::npos) << describe(other);
    const CliRun reset = scan_with({"--block-size", "128K", "--reset-block-size"});
    EXPECT_EQ(reset.process.exit_code, 0) << describe(reset);
    EXPECT_EQ(reset.json["block_size"], 128 * 1024);
}

TEST_P(ScanVol, AGrownFileGetsCorrectDigests) {
    write_random_file(path("log"), 5 * kBlock + 10, 15);
    fs().sync();
    ASSERT_EQ(scan().process.exit_code, 0);
    run_checked({"sh", "-c", "head -c 200000 /dev/urandom >> " + path("log").string()});
    fs().sync();
    ASSERT_EQ(scan().process.exit_code, 0);
    expect_blocks_match(path("log"));
}

TEST_P(ScanVol, AReflinkCopyOfACataloguedFileIsNotRead) {
    write_random_file(path("orig"), 20 * kBlock + 500, 16);
    fs().sync();
    ASSERT_EQ(scan().process.exit_code, 0);
    run_checked({"cp", "--reflink=always", path("orig").string(), path("copy").string()});
    fs().sync();
    const CliRun r = scan();
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["files_hashed"], 1);
    EXPECT_EQ(r.json["bytes_reused"], 20 * kBlock);
    EXPECT_EQ(r.json["bytes_read"], 500);  // only the partial last block
    expect_blocks_match(path("copy"));
    EXPECT_EQ(row(path("copy"))->content_digest, row(path("orig"))->content_digest);
}

TEST_P(ScanVol, AReflinkCopyOfAFileChangedSinceItsScanIsRead) {
    // The original changed after it was catalogued, then was copied: its catalogued digests
    // no longer describe its blocks, so the copy must be read.
    write_random_file(path("orig"), 8 * kBlock, 19);
    fs().sync();
    ASSERT_EQ(scan().process.exit_code, 0);
    run_checked({"dd", "if=/dev/urandom", "of=" + path("orig").string(), "bs=4096", "count=1", "seek=3",
                 "conv=notrunc", "status=none"});
    run_checked({"cp", "--reflink=always", path("orig").string(), path("copy").string()});
    fs().sync();
    const CliRun r = scan();
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    expect_blocks_match(path("copy"));
    expect_blocks_match(path("orig"));
}

TEST_P(ScanVol, RehashReadsEverythingAgain) {
    write_random_file(path("a"), 300'000, 12);
    fs().sync();
    ASSERT_EQ(scan().process.exit_code, 0);
    const CliRun r = scan({"--rehash"});
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["files_hashed"], 1);
    EXPECT_EQ(r.json["bytes_read"], 300'000);
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(ScanVol);

// On btrfs every write goes to a new place, so even a rewrite that sets the mtime back is seen
// (through the moved extent). XFS may overwrite in place: there `--rehash` is the way to check.
class ScanVolBtrfs : public ScanVol {};

TEST_P(ScanVolBtrfs, ARewriteWithTheMtimeSetBackIsStillRehashed) {
    write_random_file(path("a"), 300'000, 13);
    fs().sync();
    ASSERT_EQ(scan().process.exit_code, 0);
    run_checked({"cp", "-p", path("a").string(), path("ref").string()});  // keeps a's mtime
    run_checked({"dd", "if=/dev/urandom", "of=" + path("a").string(), "bs=4096", "count=1", "seek=10",
                 "conv=notrunc", "status=none"});
    run_checked({"touch", "-r", path("ref").string(), path("a").string()});
    fs::remove(path("ref"));
    fs().sync();
    const CliRun r = scan();
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["files_hashed"], 1);
    expect_blocks_match(path("a"));
}

TEST_P(ScanVolBtrfs, AGrownFileIsReadOnlyFromItsOldEnd) {
    // 10 full blocks + 1000 bytes, then a day of log appended.
    write_random_file(path("log"), 10 * kBlock + 1000, 14);
    fs().sync();
    ASSERT_EQ(scan().process.exit_code, 0);
    {
        std::ofstream out(path("log"), std::ios::binary | std::ios::app);
        const std::vector<char> tail(3 * kBlock, 'x');
        out.write(tail.data(), static_cast<std::streamsize>(tail.size()));
    }
    fs().sync();
    const CliRun r = scan();
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["files_hashed"], 1);
    EXPECT_EQ(r.json["bytes_reused"], 10 * kBlock);           // the old full blocks: not read
    EXPECT_EQ(r.json["bytes_read"], 1000 + 3 * kBlock);        // the old partial block + the tail
    expect_blocks_match(path("log"));
}

TEST_P(ScanVolBtrfs, ASnapshotOfCataloguedFilesIsNotRead) {
    run_checked({"btrfs", "-q", "subvolume", "create", path("vol").string()});
    write_random_file(path("vol/a"), 8 * kBlock, 17);
    write_random_file(path("vol/b"), 4 * kBlock, 18);
    fs().sync();
    ASSERT_EQ(run_reflinkdedup({"scan-vol", "--json", "--block-size", "64K", "--db", db(), path("vol")}).process.exit_code, 0);
    run_checked({"btrfs", "-q", "subvolume", "snapshot", "-r", path("vol").string(), path("snap").string()});
    const CliRun r = run_reflinkdedup({"scan-vol", "--json", "--db", db(), path("snap")});
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["files_hashed"], 2);  // new identities (another subvolume)...
    EXPECT_EQ(r.json["bytes_read"], 0);    // ...whose data is known
    EXPECT_EQ(r.json["bytes_reused"], 12 * kBlock);
    expect_blocks_match(path("snap/a"));
    expect_blocks_match(path("snap/b"));
}

INSTANTIATE_TEST_SUITE_P(, ScanVolBtrfs, ::testing::Values(FsKind::Btrfs), FsKindParamName{});

}  // namespace
}  // namespace rdd::test
