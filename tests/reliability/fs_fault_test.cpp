// Filesystem faults under dedup-vol (issue 8), on btrfs and XFS where they apply: the target
// filesystem full, remounted read-only mid-run, a btrfs subvolume deleted mid-run, a file
// made immutable or NOCOW by someone else between scan and dedupe or mid-run. Expected: a
// documented exit code (1 where part was done), no change to any file but sharing, no
// immutable flag left that was not there, and the next run on a healthy filesystem succeeds.
// Catalog and freeze journal live outside the filesystem under test (fs().temp_dir()).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.hpp"
#include "spawned.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::test::faults {
namespace {

using namespace std::chrono_literals;
constexpr std::uint64_t kMiB = 1024 * 1024;

std::string pair_name(int i) { return "p" + std::to_string(100 + i); }

class FsFaults : public LoopFsTest {
protected:
    std::string db() const { return (fs_->temp_dir() / db_name_).string(); }
    std::string db_name_ = "catalog.sqlite";  // one per data set: a catalog shares across all it knows
    std::vector<std::string> args(const std::string& command, const std::vector<std::string>& roots,
                                  const std::vector<std::string>& extra) const {
        std::vector<std::string> a{command, "--db", db()};
        if (command == "dedup-vol") a.insert(a.end(), {"--json", "--state-dir", (fs_->temp_dir() / "state").string()});
        a.insert(a.end(), extra.begin(), extra.end());
        a.insert(a.end(), roots.begin(), roots.end());
        return a;
    }
    CliRun run(const fs::path& root, const std::vector<std::string>& extra = {}) const {
        return run_reflinkdedup(args("dedup-vol", {root.string()}, extra));
    }
    CliRun scan(const fs::path& root, const std::vector<std::string>& extra = {}) const {
        return run_reflinkdedup(args("scan-vol", {root.string()}, extra));
    }
    std::unique_ptr<Spawned> start(const fs::path& root, const std::vector<std::string>& extra = {}) const {
        std::vector<std::string> argv{RDD_BINARY};
        for (auto& a : args("dedup-vol", {root.string()}, extra)) argv.push_back(a);
        auto s = std::make_unique<Spawned>(argv, fs_->temp_dir() / "out", fs_->temp_dir() / "err");
        EXPECT_GT(s->pid(), 0);
        return s;
    }
    // `n` directories p1NN, each with two identical files a and b of `bytes`.
    void write_pairs(const fs::path& root, int n, std::uint64_t bytes) const {
        for (int i = 0; i < n; ++i) {
            const fs::path d = root / pair_name(i);
            fs::create_directories(d);
            write_random_file(d / "a", bytes, static_cast<std::uint64_t>(i) + 1);
            write_random_file(d / "b", bytes, static_cast<std::uint64_t>(i) + 1);
        }
        fs_->sync();
    }
    // A pair that frees the most, so dedup-vol (largest savings first) takes it first and holds
    // it long enough (milliseconds) for the test to see its lease or flag and stop the run there.
    void write_big_pair(const fs::path& root) const {
        fs::create_directories(root / "big");
        write_random_file(root / "big/a", 8 * kMiB, 999);
        write_random_file(root / "big/b", 8 * kMiB, 999);
        fs_->sync();
    }
    bool pair_shared(const fs::path& root, int i) const {
        const fs::path d = root / pair_name(i);
        return bytes_shared_with(d / "a", d / "b") == fs::file_size(d / "a");
    }
    // A healthy run after the fault: exit 0, nothing skipped, and a second one finds nothing.
    void expect_healthy_runs(const fs::path& root, const std::vector<std::string>& extra = {}) const {
        const CliRun r = run(root, extra);
        ASSERT_TRUE(ended_cleanly(r.process));
        ASSERT_EQ(r.process.exit_code, 0) << describe(r);
        EXPECT_EQ(r.json["skipped_count"], 0) << describe(r);
        const CliRun again = run(root, extra);
        ASSERT_EQ(again.process.exit_code, 0) << describe(again);
        EXPECT_EQ(again.json["dedupe_calls"], 0) << describe(again);
    }
    static bool any_immutable(const fs::path& root) {
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec)) {
            if (it->is_regular_file(ec) && (inode_flags(it->path()) & FS_IMMUTABLE_FL) != 0) return true;
        }
        return false;
    }
    // Rewrites a file in place as NOCOW with the same bytes (truncate, chattr +C, write).
    static void rewrite_as_nocow(const fs::path& file, std::uint64_t bytes, std::uint64_t seed) {
        fs::resize_file(file, 0);
        set_nocow(file);
        write_random_file(file, bytes, seed);
    }
};

// Every data block taken: on btrfs the move of a grown log's old extent (a tail copy) finds no
// room and is skipped with a reason; the plain shares need no data space. The next run, with
// room again, does the rest.
TEST_P(FsFaults, TargetFull) {
    const fs::path data = path("data");
    write_pairs(data, 2, 4 * kMiB);
    write_random_file(path("old"), 8 * kMiB, 50);
    write_random_file(path("tail"), 4 * kMiB, 51);
    // One stream: on btrfs one extent holding both the shared old part and the new tail.
    run_checked({"sh", "-c", "cat '" + path("old").string() + "' > '" + (data / "log.1").string() + "' && cat '" +
                                 path("old").string() + "' '" + path("tail").string() + "' | cat > '" +
                                 (data / "log.2").string() + "'"});
    fs::remove(path("old"));
    fs::remove(path("tail"));
    fs().sync();
    const TreeState before = tree_state(data);
    const auto avail = fs::space(path("")).available;
    run_checked({"fallocate", "-l", std::to_string(avail - std::min<std::uint64_t>(avail, 2 * kMiB)), path("fill1").string()});
    (void)run_process({"dd", "if=/dev/zero", "of=" + path("fill2").string(), "bs=4096", "status=none"});
    fs().sync();
    ASSERT_LT(fs::space(path("")).available, 1 * kMiB);

    const CliRun r = run(data);
    ASSERT_TRUE(ended_cleanly(r.process));
    expect_same_tree(before, data);
    if (GetParam() == FsKind::Btrfs) {
        ASSERT_EQ(r.process.exit_code, 1) << describe(r);
        ASSERT_GE(r.json["skipped"].size(), 1u) << describe(r);
        EXPECT_NE(r.json["skipped"][0]["reason"].get<std::string>().find("no room"), std::string::npos) << describe(r);
        EXPECT_EQ(r.json["extents_moved"], 0);
    } else {
        EXPECT_LE(r.process.exit_code, 1) << describe(r);
    }

    fs::remove(path("fill1"));
    fs::remove(path("fill2"));
    fs().sync();
    expect_healthy_runs(data);
    expect_same_tree(before, data);
    for (int i = 0; i < 2; ++i) EXPECT_TRUE(pair_shared(data, i)) << i;
    EXPECT_EQ(bytes_shared_with(data / "log.1", data / "log.2"), 8 * kMiB);
}

// `mount -o remount,ro` of the filesystem while dedup-vol shares: the rest is skipped (exit 1),
// and once it is writable again the next run finishes, leaving no flag of ours behind.
TEST_P(FsFaults, RemountedReadOnlyDuringRun) {
    for (const std::string lock : {"lease", "immutable"}) {
        SCOPED_TRACE(lock);
        db_name_ = "catalog-" + lock + ".sqlite";
        const fs::path data = path("data-" + lock);
        write_pairs(data, 3, kMiB);
        write_big_pair(data);
        const TreeState before = tree_state(data);
        ASSERT_EQ(scan(data).process.exit_code, 0);  // so the run goes straight to sharing

        ReadGate gate({data / "big/a", data / "big/b"});
        auto running = start(data, {"--lock", lock});
        // Held in its first job (the big pair), locked: the rest of the run meets a read-only fs.
        const bool caught = gate.wait([&] { return running->running(); });
        bool remounted = false;
        for (int i = 0; caught && !remounted && i < 200; ++i) {  // EBUSY while a file is open for writing
            try {
                fs().remount_ro();
                remounted = true;
            } catch (const std::exception&) {
                std::this_thread::sleep_for(5ms);
            }
        }
        gate.release();
        const ProcessResult r = running->wait();
        ASSERT_TRUE(caught) << "the run ended before it shared anything: " << r.err;
        ASSERT_TRUE(remounted);
        EXPECT_TRUE(ended_cleanly(r));
        EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
        const auto json = nlohmann::json::parse(r.out, nullptr, false);
        ASSERT_TRUE(json.is_object()) << r.out;
        EXPECT_EQ(json["skipped_count"], 4) << r.out;  // stopped on the first: none was shared
        for (const auto& sk : json["skipped"]) {
            EXPECT_NE(sk["reason"].get<std::string>().find("Read-only file system"), std::string::npos) << sk;
        }
        fs().remount_rw();

        expect_healthy_runs(data);
        EXPECT_FALSE(any_immutable(data)) << "a flag of ours was left behind";
        expect_same_tree(before, data, /*ignore_ctime=*/lock == "immutable");
        for (int i = 0; i < 3; ++i) EXPECT_TRUE(pair_shared(data, i)) << i;
    }
}

// Someone else sets the immutable flag on a pair after the scan: that pair is skipped with a
// reason, the flag stays (also under --lock=immutable, which restores what it found), the
// others are shared; once the flag is gone the next run shares the pair.
TEST_P(FsFaults, ImmutableSetBetweenScanAndDedup) {
    for (const std::string lock : {"lease", "immutable"}) {
        SCOPED_TRACE(lock);
        db_name_ = "catalog-" + lock + ".sqlite";
        const fs::path data = path("data-" + lock);
        write_pairs(data, 4, kMiB);
        ASSERT_EQ(scan(data).process.exit_code, 0);
        const ClearImmutableOnExit unfreeze{{data}};
        set_immutable(data / pair_name(0) / "a", true);
        set_immutable(data / pair_name(0) / "b", true);
        const TreeState before = tree_state(data);

        const CliRun r = run(data, {"--lock", lock});
        ASSERT_TRUE(ended_cleanly(r.process));
        ASSERT_EQ(r.process.exit_code, 1) << describe(r);
        ASSERT_EQ(r.json["skipped"].size(), 1u) << describe(r);
        EXPECT_NE(r.json["skipped"][0]["path"].get<std::string>().find(pair_name(0)), std::string::npos) << describe(r);
        expect_same_tree(before, data, /*ignore_ctime=*/lock == "immutable");  // flags included
        EXPECT_FALSE(pair_shared(data, 0));
        for (int i = 1; i < 4; ++i) EXPECT_TRUE(pair_shared(data, i)) << i;

        set_immutable(data / pair_name(0) / "a", false);
        set_immutable(data / pair_name(0) / "b", false);
        expect_healthy_runs(data);
        EXPECT_TRUE(pair_shared(data, 0));
    }
}

// The flag set while the run shares other files: whatever was reached is skipped, the flag
// stays, nothing else changes.
TEST_P(FsFaults, ImmutableSetDuringRun) {
    const fs::path data = path("data");
    write_pairs(data, 5, kMiB);
    write_big_pair(data);
    ASSERT_EQ(scan(data).process.exit_code, 0);
    TreeState before = tree_state(data);  // not while the gate holds reads
    const ClearImmutableOnExit unfreeze{{data}};
    ReadGate gate({data / "big/a", data / "big/b"});
    auto running = start(data);
    const bool caught = gate.wait([&] { return running->running(); });  // in its first job
    std::vector<fs::path> frozen;
    for (int i = 3; i < 5; ++i) {
        for (const char* f : {"a", "b"}) {
            frozen.push_back(data / pair_name(i) / f);
            set_immutable(frozen.back(), true);
        }
    }
    gate.release();
    const ProcessResult r = running->wait();
    for (const auto& f : frozen) {  // what the other writer changed: the flag, and so ctime
        auto& m = before.files.at(fs::relative(f, data).string()).second;
        m.inode_flags = *m.inode_flags | FS_IMMUTABLE_FL;
        m.ctime = snapshot_metadata(f).ctime;
    }
    ASSERT_TRUE(caught) << "the run ended before it shared anything: " << r.err;
    EXPECT_TRUE(ended_cleanly(r));
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    for (int i = 3; i < 5; ++i) EXPECT_NE(r.out.find(pair_name(i)), std::string::npos) << "not listed as skipped: " << r.out;
    expect_same_tree(before, data);
    for (const auto& f : frozen) EXPECT_NE(inode_flags(f) & FS_IMMUTABLE_FL, 0u) << f;

    for (const auto& f : frozen) set_immutable(f, false);
    expect_healthy_runs(data);
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(pair_shared(data, i)) << i;
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(FsFaults);

// ---- btrfs only: subvolumes and NOCOW.
class BtrfsFaults : public FsFaults {};

// A snapshot-like subvolume deleted while dedup-vol --recursive works on it: the other
// subvolume keeps every byte and attribute, the run ends partly done at worst (files and
// volumes that vanish are skipped, as documented), and the next run drops the deleted one.
class BtrfsSubvolumeDeleted : public FsFaults {
protected:
    void run_and_delete(bool during_scan) {
        const fs::path top = path("top"), keep = top / "a-keep", gone = top / "b-gone";  // scanned in this order
        fs::create_directories(top);
        run_checked({"btrfs", "-q", "subvolume", "create", keep.string()});
        run_checked({"btrfs", "-q", "subvolume", "create", gone.string()});
        write_pairs(keep, 4, kMiB);
        write_big_pair(keep);
        write_pairs(gone, 4, kMiB);  // same seeds: also duplicates across subvolumes
        const TreeState before = tree_state(keep);
        // Sharing: catalogued first, so the run reads only inside its first job (the big pair).
        // Scan: the run hashes a-keep's big pair before it gets to b-gone.
        if (!during_scan) {
            ASSERT_EQ(scan(top, {"--recursive"}).process.exit_code, 0);
        }

        ReadGate gate({keep / "big/a", keep / "big/b"});
        auto running = start(top, {"--recursive"});
        const bool caught = gate.wait([&] { return running->running(); });
        const ProcessResult del = run_process({"btrfs", "subvolume", "delete", gone.string()});
        gate.release();
        const ProcessResult r = running->wait();
        ASSERT_TRUE(caught) << r.err;
        ASSERT_EQ(del.exit_code, 0) << del.err;
        EXPECT_TRUE(ended_cleanly(r));
        EXPECT_LE(r.exit_code, 1) << r.out << r.err;
        if (during_scan) {  // listed at the start, gone when its turn came: that volume only
            EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
            EXPECT_NE(r.out.find(gone.string() + ": vanished during the scan"), std::string::npos) << r.out;
        }
        expect_same_tree(before, keep);

        expect_healthy_runs(top, {"--recursive"});
        expect_same_tree(before, keep);
        for (int i = 0; i < 4; ++i) EXPECT_TRUE(pair_shared(keep, i)) << i;
    }
};

TEST_P(BtrfsSubvolumeDeleted, DuringTheScan) { run_and_delete(true); }
TEST_P(BtrfsSubvolumeDeleted, WhileSharing) { run_and_delete(false); }
INSTANTIATE_TEST_SUITE_P(, BtrfsSubvolumeDeleted, ::testing::Values(FsKind::Btrfs), FsKindParamName{});

// A file rewritten as NOCOW after the scan (empty, chattr +C, same bytes written): NOCOW files
// do not share with COW ones, so it is left alone (documented), stays NOCOW, the rest shares.
TEST_P(BtrfsFaults, NocowBetweenScanAndDedup) {
    const fs::path data = path("data");
    write_pairs(data, 4, kMiB);
    ASSERT_EQ(scan(data).process.exit_code, 0);
    rewrite_as_nocow(data / pair_name(0) / "b", kMiB, 1);
    const TreeState before = tree_state(data);

    const CliRun r = run(data);
    ASSERT_TRUE(ended_cleanly(r.process));
    EXPECT_LE(r.process.exit_code, 1) << describe(r);
    expect_same_tree(before, data);
    EXPECT_NE(inode_flags(data / pair_name(0) / "b") & FS_NOCOW_FL, 0u);
    for (int i = 1; i < 4; ++i) EXPECT_TRUE(pair_shared(data, i)) << i;
    expect_healthy_runs(data);
    expect_same_tree(before, data);
}

// The same while the run shares other files.
TEST_P(BtrfsFaults, NocowDuringRun) {
    const fs::path data = path("data");
    write_pairs(data, 5, kMiB);
    write_big_pair(data);
    ASSERT_EQ(scan(data).process.exit_code, 0);
    TreeState before = tree_state(data);  // not while the gate holds reads
    ReadGate gate({data / "big/a", data / "big/b"});
    auto running = start(data);
    const bool caught = gate.wait([&] { return running->running(); });  // in its first job
    for (int i = 3; i < 5; ++i) rewrite_as_nocow(data / pair_name(i) / "b", kMiB, static_cast<std::uint64_t>(i) + 1);
    gate.release();
    const ProcessResult r = running->wait();
    for (int i = 3; i < 5; ++i) {  // what the other writer changed: the flag and the times
        const fs::path f = data / pair_name(i) / "b";
        auto& m = before.files.at(fs::relative(f, data).string()).second;
        const MetadataSnapshot now = snapshot_metadata(f);
        m.inode_flags = now.inode_flags;
        m.mtime = now.mtime;
        m.ctime = now.ctime;
    }
    ASSERT_TRUE(caught) << r.err;
    EXPECT_TRUE(ended_cleanly(r));
    EXPECT_LE(r.exit_code, 1) << r.out << r.err;
    expect_same_tree(before, data);

    expect_healthy_runs(data);
    expect_same_tree(before, data);
    for (int i = 3; i < 5; ++i) EXPECT_NE(inode_flags(data / pair_name(i) / "b") & FS_NOCOW_FL, 0u) << i;
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(pair_shared(data, i)) << i;
}

INSTANTIATE_TEST_SUITE_P(, BtrfsFaults, ::testing::Values(FsKind::Btrfs), FsKindParamName{});

}  // namespace
}  // namespace rdd::test::faults
