// btrfs nightly runs (issue 4): a rescan looks only at inodes whose transid moved since the last
// complete pass (tree search), reconciles deletions, covers nested subvolumes with --recursive,
// applies the read-only snapshot policy, forgets deleted subvolumes, and says what to do
// without CAP_SYS_ADMIN.
#include <sys/stat.h>

#include <set>

#include "reflinkdedup/btrfs/subvolume.hpp"
#include "scan_vol_fixture.hpp"

namespace rdd::test {
namespace {

namespace fs = std::filesystem;

class ScanVolIncremental : public ScanVolFixture {
protected:
    CliRun scan_path(const fs::path& p, std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"scan-vol", "--json", "--block-size", "64K", "--db", db()};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back(p.string());
        return run_reflinkdedup(args);
    }
    void subvolume(const fs::path& p) { run_checked({"btrfs", "-q", "subvolume", "create", p.string()}); }
    void snapshot(const fs::path& from, const fs::path& to) {
        run_checked({"btrfs", "-q", "subvolume", "snapshot", "-r", from.string(), to.string()});
    }
    // Every catalogued path of a subvolume.
    std::set<std::string> catalogued(std::uint64_t subvol) {
        std::set<std::string> paths;
        const auto cat = catalog::Catalog::open_reader(db());
        (void)cat.for_each_file(subvol, [&](const catalog::FileRow& r) { return paths.insert(r.path), true; });
        return paths;
    }
    std::uint64_t subvol_id(const fs::path& p) { return btrfs::subvolume_at(p).id; }
};

TEST_P(ScanVolIncremental, FiveKindsOfChangeAreExactlyWhatTheRescanLooksAt) {
    subvolume(path("vol"));
    // Many files nobody touches, and the five that will change.
    for (int d = 0; d < 10; ++d) {
        fs::create_directories(path("vol/d" + std::to_string(d)));
        for (int i = 0; i < 100; ++i) {
            write_random_file(path("vol/d" + std::to_string(d) + "/f" + std::to_string(i)), 3000 + 97 * std::uint64_t(i),
                              std::uint64_t(d * 1000 + i));
        }
    }
    write_random_file(path("vol/log"), 16 * kBlock, 1);        // whole blocks: the append starts a new one
    write_random_file(path("vol/attr"), 5 * kBlock, 2);
    write_random_file(path("vol/src"), 4 * kBlock, 3);
    run_checked({"touch", path("vol/nocow").string()});
    set_nocow(path("vol/nocow"));
    write_random_file(path("vol/nocow"), 8 * kBlock, 4);
    write_random_file(fs().temp_dir() / "incoming", 3 * kBlock + 123, 5);
    fs().sync();
    const CliRun full = scan_path(path("vol"));
    ASSERT_EQ(full.process.exit_code, 0) << describe(full);
    ASSERT_EQ(full.json["volumes"][0]["mode"], "full");
    EXPECT_EQ(full.json["files_hashed"], 1004);

    // Nothing changed: nothing looked at, nothing read.
    const CliRun idle = scan_path(path("vol"));
    ASSERT_EQ(idle.process.exit_code, 0) << describe(idle);
    EXPECT_EQ(idle.json["volumes"][0]["mode"], "incremental");
    EXPECT_EQ(idle.json["volumes"][0]["inodes_changed"], 0);
    EXPECT_EQ(idle.json["files_seen"], 0);
    EXPECT_EQ(idle.json["bytes_read"], 0);
    EXPECT_FALSE(idle.json["volumes"][0]["deletions_reconciled"]);

    {
        std::ofstream out(path("vol/log"), std::ios::binary | std::ios::app);  // 1. append
        const std::vector<char> tail(kBlock + 500, 'x');
        out.write(tail.data(), static_cast<std::streamsize>(tail.size()));
    }
    run_checked({"rsync", "-a", (fs().temp_dir() / "incoming").string(), path("vol/d3/").string()});  // 2. rsync in
    run_checked({"chattr", "+d", path("vol/attr").string()});                                          // 3. chattr
    run_checked({"cp", "--reflink=always", path("vol/src").string(), path("vol/d5/copy").string()});   // 4. reflink copy
    run_checked({"dd", "if=/dev/urandom", "of=" + path("vol/nocow").string(), "bs=64K", "count=1", "seek=2",
                 "conv=notrunc", "status=none"});                                                      // 5. NOCOW in place
    fs().sync();

    const CliRun r = scan_path(path("vol"));
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    const auto& v = r.json["volumes"][0];
    EXPECT_EQ(v["mode"], "incremental");
    EXPECT_EQ(v["inodes_changed"], 5);
    // Entries were only added (rsync's temporary name came and went after the last pass):
    // no full pass over every inode was needed to look for deleted files.
    EXPECT_FALSE(v["deletions_reconciled"]);
    EXPECT_EQ(r.json["files_seen"], 5);
    // Hashed: the log's new block, the rsynced file, the copy (from the digests of its source:
    // shared extents, nothing read) and the NOCOW file (rewritten in place: read whole).
    EXPECT_EQ(r.json["files_hashed"], 4);
    EXPECT_EQ(r.json["files_unchanged"], 1);  // chattr: ctime moved, every block where it was
    EXPECT_EQ(r.json["bytes_read"], (kBlock + 500) + (3 * kBlock + 123) + 8 * kBlock);
    EXPECT_EQ(r.json["bytes_reused"], 16 * kBlock + 4 * kBlock);
    for (const char* f : {"vol/log", "vol/d3/incoming", "vol/d5/copy", "vol/nocow", "vol/attr", "vol/d7/f7"}) {
        expect_blocks_match(path(f));
    }
    EXPECT_EQ(row(path("vol/nocow"))->state, catalog::FileState::nocow);
    EXPECT_EQ(catalogued(subvol_id(path("vol"))).size(), 1006u);
}

TEST_P(ScanVolIncremental, DeletedFilesAndDirectoriesLeaveTheCatalog) {
    subvolume(path("vol"));
    fs::create_directories(path("vol/keep"));
    fs::create_directories(path("vol/gone/deep"));
    for (const char* f : {"keep/a", "keep/b", "gone/c", "gone/deep/d", "linked"}) write_random_file(path("vol") / f, 70'000, 7);
    fs::create_hard_link(path("vol/linked"), path("vol/keep/link2"));
    fs().sync();
    ASSERT_EQ(scan_path(path("vol")).process.exit_code, 0);
    const std::uint64_t id = subvol_id(path("vol"));
    ASSERT_EQ(catalogued(id).size(), 5u);  // the hard link is one file

    fs::remove_all(path("vol/gone"));
    fs::remove(path("vol/keep/b"));
    fs::remove(path("vol/linked"));  // one of two links: the file stays
    fs().sync();
    const CliRun r = scan_path(path("vol"));
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["volumes"][0]["mode"], "incremental");
    EXPECT_TRUE(r.json["volumes"][0]["deletions_reconciled"]);
    EXPECT_EQ(r.json["files_deleted"], 3);
    EXPECT_EQ(r.json["bytes_read"], 0);
    EXPECT_EQ(catalogued(id), (std::set<std::string>{"keep/a", "keep/link2"}));
}

TEST_P(ScanVolIncremental, ChangedExcludesOrMinSizeMakeTheNextPassAFullOne) {
    subvolume(path("vol"));
    write_random_file(path("vol/a.tmp"), 70'000, 1);
    write_random_file(path("vol/b"), 70'000, 2);
    fs().sync();
    ASSERT_EQ(scan_path(path("vol")).process.exit_code, 0);
    const CliRun r = scan_path(path("vol"), {"--exclude", "*.tmp"});
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["volumes"][0]["mode"], "full");
    EXPECT_EQ(r.json["files_deleted"], 1);
    EXPECT_EQ(catalogued(subvol_id(path("vol"))), std::set<std::string>{"b"});
    // Same settings again: incremental; a file renamed into an excluded name leaves.
    fs::rename(path("vol/b"), path("vol/b.tmp"));
    fs().sync();
    const CliRun again = scan_path(path("vol"), {"--exclude", "*.tmp"});
    ASSERT_EQ(again.process.exit_code, 0) << describe(again);
    EXPECT_EQ(again.json["volumes"][0]["mode"], "incremental");
    EXPECT_TRUE(catalogued(subvol_id(path("vol"))).empty());
}

TEST_P(ScanVolIncremental, RecursiveCoversNestedSubvolumesAndTheSnapshotPolicy) {
    subvolume(path("vol"));
    subvolume(path("vol/nested"));
    write_random_file(path("vol/a"), 4 * kBlock, 1);
    write_random_file(path("vol/nested/b"), 4 * kBlock, 2);
    fs::create_directories(path("vol/snaps"));
    fs().sync();
    snapshot(path("vol/nested"), path("vol/snaps/nested-day1"));

    // Without --recursive the nested subvolumes are another volume: not entered.
    const CliRun flat = scan_path(path("vol"));
    ASSERT_EQ(flat.process.exit_code, 0) << describe(flat);
    EXPECT_EQ(flat.json["volumes"].size(), 1u);
    EXPECT_EQ(flat.json["files_hashed"], 1);

    const CliRun skip = scan_path(path("vol"), {"--recursive", "--ro-snapshots=skip"});
    ASSERT_EQ(skip.process.exit_code, 0) << describe(skip);
    ASSERT_EQ(skip.json["volumes"].size(), 3u);
    EXPECT_EQ(skip.json["volumes"][2]["mode"], "skipped");
    EXPECT_TRUE(skip.json["volumes"][2]["read_only"]);

    const CliRun all = scan_path(path("vol"), {"--recursive"});
    ASSERT_EQ(all.process.exit_code, 0) << describe(all);
    ASSERT_EQ(all.json["volumes"].size(), 3u);
    EXPECT_EQ(all.json["volumes"][0]["mode"], "incremental");
    EXPECT_EQ(all.json["volumes"][1]["mode"], "incremental");
    EXPECT_EQ(all.json["volumes"][2]["mode"], "full");  // first time for the snapshot
    EXPECT_EQ(all.json["bytes_read"], 0);              // its data is the nested subvolume's
    EXPECT_EQ(catalogued(subvol_id(path("vol/snaps/nested-day1"))), std::set<std::string>{"b"});

    // show-vols lists all three, with the read-only flag and the recorded generation.
    const CliRun shown = run_reflinkdedup({"show-vols", "--json", "--db", db()});
    ASSERT_EQ(shown.process.exit_code, 0) << describe(shown);
    std::set<std::string> listed;
    for (const auto& vol : shown.json["volumes"]) {
        listed.insert(vol["path"].get<std::string>());
        EXPECT_GT(vol["last_generation"].get<std::uint64_t>(), 0u);
        EXPECT_EQ(vol["files"], 1);
        EXPECT_EQ(vol["read_only"], vol["path"].get<std::string>().find("snaps") != std::string::npos);
    }
    EXPECT_EQ(listed, (std::set<std::string>{fs::canonical(path("vol")).string(), fs::canonical(path("vol/nested")).string(),
                                             fs::canonical(path("vol/snaps/nested-day1")).string()}));

    // A deleted subvolume's rows go with it.
    const std::uint64_t snap_id = subvol_id(path("vol/snaps/nested-day1"));
    run_checked({"btrfs", "-q", "subvolume", "delete", path("vol/snaps/nested-day1").string()});
    const CliRun after = scan_path(path("vol"), {"--recursive"});
    ASSERT_EQ(after.process.exit_code, 0) << describe(after);
    EXPECT_EQ(after.json["subvolumes_deleted"], 1);
    EXPECT_TRUE(catalogued(snap_id).empty());
}

TEST_P(ScanVolIncremental, WithoutCapSysAdminItSaysSoAndWalksOnlyWhenAsked) {
    subvolume(path("vol"));
    write_random_file(path("vol/a"), 70'000, 1);
    fs::permissions(path("vol/a"), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    fs().sync();
    const fs::path dbdir = fs().temp_dir() / "nobody";
    fs::create_directories(dbdir);
    run_checked({"chown", "65534:65534", dbdir.string()});
    fs::permissions(fs().temp_dir(), fs::perms::others_exec, fs::perm_options::add);
    const std::vector<std::string> as_nobody{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                             "--inh-caps=-all", "--bounding-set=-all", RDD_BINARY,
                                             "scan-vol", "--json", "--db", (dbdir / "c.sqlite").string()};
    auto args = as_nobody;
    args.push_back(path("vol").string());
    const ProcessResult refused = run_process(args);
    EXPECT_EQ(refused.exit_code, 2) << refused.err;
    EXPECT_NE(refused.err.find("CAP_SYS_ADMIN"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("--walk"), std::string::npos) << refused.err;
    EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
    EXPECT_FALSE(fs::exists(dbdir / "c.sqlite"));

    args = as_nobody;
    args.push_back("--walk");
    args.push_back(path("vol").string());
    const ProcessResult walked = run_process(args);
    ASSERT_EQ(walked.exit_code, 0) << walked.err;
    const auto j = nlohmann::json::parse(walked.out);
    EXPECT_EQ(j["files_hashed"], 1);
    EXPECT_EQ(j["volumes"][0]["mode"], "full");
}

// The snapshot policy as dedup-vol applies it: a read-only snapshot's only copy of some data is
// never modified by default (its extents stay where they are), and is with --ro-snapshots=dedupe.
TEST_P(ScanVolIncremental, DedupVolModifiesReadOnlySnapshotsOnlyUnderTheDedupePolicy) {
    for (const char* policy : {"source-only", "dedupe"}) {
        SCOPED_TRACE(policy);
        const fs::path top = path(policy);
        fs::create_directories(top);
        subvolume(top / "vol");
        subvolume(top / "src");
        write_random_file(top / "vol/x", 2 << 20, 9);
        run_checked({"cp", "--reflink=always", (top / "vol/x").string(), (top / "vol/y").string()});
        run_checked({"cp", "--reflink=never", (top / "vol/x").string(), (top / "src/z").string()});
        fs().sync();
        snapshot(top / "src", top / "snap");  // the snapshot's z: the only reference to its extents
        run_checked({"btrfs", "-q", "subvolume", "delete", (top / "src").string()});
        fs().sync();
        const auto before = fiemap_extents(top / "snap/z");
        const std::string sha = sha256_file(top / "snap/z");
        const CliRun r = run_reflinkdedup({"dedup-vol", "--json", "--db", (fs().temp_dir() / (std::string(policy) + ".sqlite")).string(),
                                           "--recursive", std::string("--ro-snapshots=") + policy, top.string()});
        ASSERT_LE(r.process.exit_code, 1) << describe(r);
        EXPECT_EQ(sha256_file(top / "snap/z"), sha);
        const bool moved = bytes_shared_with(top / "snap/z", top / "vol/x") == (2u << 20);
        if (std::string(policy) == "dedupe") {
            EXPECT_TRUE(moved);  // z now shares x's extents (the ones two files already share)
        } else {
            EXPECT_FALSE(moved);
            const auto after = fiemap_extents(top / "snap/z");
            ASSERT_EQ(after.size(), before.size());
            for (std::size_t i = 0; i < after.size(); ++i) {
                EXPECT_EQ(after[i].logical, before[i].logical);
                EXPECT_EQ(after[i].physical, before[i].physical);
                EXPECT_EQ(after[i].length, before[i].length);
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(, ScanVolIncremental, ::testing::Values(FsKind::Btrfs), FsKindParamName{});

}  // namespace
}  // namespace rdd::test
