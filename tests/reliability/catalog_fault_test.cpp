// Catalog faults (issue 8): the --db file deleted, truncated, corrupted, read-only, from a newer
// schema, held by another reflinkdedup, on a full filesystem. Each must end in one clear
// stderr line and the documented exit code, never a crash, and never touch the user's files.
// The data lives on one loop-mounted btrfs shared by the suite; every test has its own
// directory there (data/ scanned, cat/ for the catalog) and its own catalog.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.hpp"
#include "spawned.hpp"
#include "support/fs_kind_param.hpp"
#include "support/loop_filesystem.hpp"

namespace rdd::test::faults {
namespace {

using namespace std::chrono_literals;
constexpr std::uint64_t kKiB = 1024;
constexpr uid_t kNobody = 65534;

// Runs f on a raw SQLite connection to the catalog (as another program would).
void with_sqlite(const fs::path& db, const std::string& sql) {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    const std::unique_ptr<sqlite3, int (*)(sqlite3*)> guard(h, sqlite3_close);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
}

std::int64_t query_int(const fs::path& db, const std::string& sql) {
    sqlite3* h = nullptr;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return -1;
    const std::unique_ptr<sqlite3, int (*)(sqlite3*)> guard(h, sqlite3_close);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return -1;
    const std::int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

void overwrite(const fs::path& file, std::uint64_t offset, const std::string& bytes) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f) << file;
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good()) << file;
}

std::string random_bytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(gen() & 0xff);
    return s;
}

// OFD write-lock probe of the writer lock file: true while some process holds it.
bool writer_lock_held(const fs::path& lock_file) {
    const int fd = ::open(lock_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct flock lk {};
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    const bool held = ::fcntl(fd, F_OFD_GETLK, &lk) == 0 && lk.l_type != F_UNLCK;
    ::close(fd);
    return held;
}

class CatalogFaults : public ::testing::Test {
protected:
    // One filesystem and one data set for the suite (written once: fsync per file is the cost);
    // tests only share its blocks, which changes no byte or attribute, and each has its own
    // catalog directory.
    static void SetUpTestSuite() {
        if (loop_prerequisites_missing(FsKind::Btrfs)) return;  // each test skips or fails itself
        data_fs_ = new LoopFilesystem(FsKind::Btrfs);
        // The mount point lies in a 0700 temp dir; the non-root case must reach it.
        fs::permissions(data_fs_->temp_dir(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
        const fs::path data = data_fs_->path("data");
        fs::create_directories(data / "sub");
        // Pairs of identical files (same seed), sizes 64..256 KiB plus an odd tail.
        for (int i = 0; i < 8; ++i) {
            const std::uint64_t size = 64 * kKiB * static_cast<std::uint64_t>(1 + i % 4) + 517 * static_cast<std::uint64_t>(i);
            const auto seed = static_cast<std::uint64_t>(i);
            write_random_file(data / ("a" + std::to_string(i)), size, seed);
            write_random_file(data / "sub" / ("b" + std::to_string(i)), size, seed);
        }
        write_random_file(data / "unique", 300 * kKiB, 1000);
        data_before_ = new TreeState(tree_state(data));
    }
    static void TearDownTestSuite() {
        delete data_before_;
        data_before_ = nullptr;
        delete data_fs_;
        data_fs_ = nullptr;
    }

    void SetUp() override {
        RDD_REQUIRE_LOOP_FS(FsKind::Btrfs);
        ASSERT_NE(data_fs_, nullptr);
        base_ = data_fs_->path(::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(base_ / "cat");
    }
    void TearDown() override {
        if (data_fs_ == nullptr || base_.empty()) return;
        // Whatever the fault, the data must be what it was.
        expect_same_tree(*data_before_, data());
        std::error_code ec;
        fs::remove_all(base_, ec);
    }

    static fs::path data() { return data_fs_->path("data"); }
    fs::path db() const { return base_ / "cat/catalog.sqlite"; }
    // --db, and for dedup-vol a freeze journal directory of the test's own.
    std::vector<std::string> common(const std::string& command) const {
        std::vector<std::string> a{command, "--db", db().string()};
        if (command == "dedup-vol") a.insert(a.end(), {"--state-dir", (base_ / "state").string()});
        return a;
    }
    CliRun cmd(const std::string& command, std::vector<std::string> extra = {}, bool with_path = true) const {
        std::vector<std::string> args = common(command);
        args.insert(args.end(), extra.begin(), extra.end());
        if (with_path) args.push_back(data().string());
        return run_reflinkdedup(args);
    }
    CliRun scan(std::vector<std::string> extra = {}) const { return cmd("scan-vol", std::move(extra)); }
    CliRun dedup(std::vector<std::string> extra = {}) const { return cmd("dedup-vol", std::move(extra)); }
    CliRun report() const { return cmd("report", {}, false); }

    // A first scan, then the catalog closed (WAL checkpointed into the main file and removed).
    void make_catalog() {
        const CliRun r = scan();
        ASSERT_EQ(r.process.exit_code, 0) << describe(r);
        ASSERT_FALSE(fs::exists(db().string() + "-wal"));
    }
    // After the fault is gone: a fresh catalog, a full dedup-vol, everything shared.
    void expect_healthy_run_after_removing_catalog() {
        for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db().string() + suffix);
        const CliRun r = dedup({"--json"});
        ASSERT_EQ(r.process.exit_code, 0) << describe(r);
        EXPECT_EQ(r.json["skipped_count"], 0) << describe(r);
        EXPECT_EQ(bytes_shared_with(data() / "a3", data() / "sub/b3"), fs::file_size(data() / "a3"));
    }

    static LoopFilesystem* data_fs_;
    static TreeState* data_before_;
    fs::path base_;
};

LoopFilesystem* CatalogFaults::data_fs_ = nullptr;
TreeState* CatalogFaults::data_before_ = nullptr;

TEST_F(CatalogFaults, DeletedBetweenRunsIsCreatedAgain) {
    make_catalog();
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db().string() + suffix);

    // Readers say there is nothing to read (an input error), writers start a new catalog.
    EXPECT_TRUE(failed_cleanly(report(), 2, db().string()));
    EXPECT_TRUE(failed_cleanly(cmd("show-vols", {}, false), 2, db().string()));
    const CliRun r = dedup({"--json"});
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["scan"]["files_hashed"], 17) << describe(r);
    EXPECT_EQ(bytes_shared_with(data() / "a1", data() / "sub/b1"), fs::file_size(data() / "a1"));
}

// Unlinked while dedup-vol has it open (stopped right after SQLite created its WAL): the run
// finishes on the unlinked file or stops with one line; the next one starts a new catalog.
TEST_F(CatalogFaults, DeletedDuringRun) {
    const fs::path out = base_ / "out", err = base_ / "err";
    std::vector<std::string> argv{RDD_BINARY};
    for (const auto& a : common("dedup-vol")) argv.push_back(a);
    argv.push_back(data().string());
    Spawned run(argv, out, err);
    ASSERT_GT(run.pid(), 0);
    const bool caught = poll_until([&] { return fs::exists(db().string() + "-wal"); }, [&] { return run.running(); });
    if (caught) ::kill(run.pid(), SIGSTOP);
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db().string() + suffix);
    ::kill(run.pid(), SIGCONT);
    const ProcessResult r = run.wait();
    ASSERT_TRUE(caught) << "the run ended before its WAL appeared: " << r.err;
    // Done on the unlinked file, or stopped where it opens the catalog again after the scan.
    if (r.exit_code != 0) {
        EXPECT_TRUE(failed_cleanly(r, 5, db().string()));
    }
    EXPECT_TRUE(ended_cleanly(r));
    EXPECT_FALSE(fs::exists(db())) << "a catalog was recreated at the old path";
    expect_healthy_run_after_removing_catalog();
}

TEST_F(CatalogFaults, TruncatedIsReportedAsDamaged) {
    make_catalog();
    const auto size = fs::file_size(db());
    ASSERT_GT(size, 8 * 4096u) << "too small a catalog to cut in half";
    fs::resize_file(db(), size / 2);

    EXPECT_TRUE(failed_cleanly(scan(), 5, "damaged"));
    EXPECT_TRUE(failed_cleanly(dedup(), 5, "damaged"));
    EXPECT_TRUE(failed_cleanly(report(), 5, "damaged"));
    EXPECT_EQ(fs::file_size(db()), size / 2) << "a damaged catalog was rewritten";
    expect_healthy_run_after_removing_catalog();
}

// Cut inside the 100-byte header: not a database any more.
TEST_F(CatalogFaults, TruncatedInsideTheHeaderIsNotACatalog) {
    make_catalog();
    fs::resize_file(db(), 50);
    EXPECT_TRUE(failed_cleanly(scan(), 5, db().string()));
    EXPECT_TRUE(failed_cleanly(report(), 5, db().string()));
    EXPECT_EQ(fs::file_size(db()), 50u);
}

// An empty file is what a crash right after creation leaves: it becomes a catalog.
TEST_F(CatalogFaults, TruncatedToZeroStartsAgain) {
    make_catalog();
    fs::resize_file(db(), 0);
    const CliRun r = scan({"--json"});
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["files_hashed"], 17);
}

TEST_F(CatalogFaults, CorruptHeaderIsReportedAsDamaged) {
    make_catalog();
    overwrite(db(), 0, random_bytes(16, 1));  // "SQLite format 3\0"
    const std::string damaged = sha256_file(db());

    EXPECT_TRUE(failed_cleanly(scan(), 5, "damaged"));
    EXPECT_TRUE(failed_cleanly(dedup(), 5, "damaged"));
    EXPECT_TRUE(failed_cleanly(report(), 5, "damaged"));
    EXPECT_TRUE(failed_cleanly(cmd("show-vols", {}, false), 5, "damaged"));
    EXPECT_EQ(sha256_file(db()), damaged) << "a damaged catalog was rewritten";
    expect_healthy_run_after_removing_catalog();
}

// The b-tree page headers of every page after the first: SQLite must notice.
TEST_F(CatalogFaults, CorruptPageHeadersAreReportedAsDamaged) {
    make_catalog();
    const auto size = fs::file_size(db());
    const auto page = static_cast<std::uint64_t>(query_int(db(), "PRAGMA page_size"));
    ASSERT_GT(page, 0u);
    for (std::uint64_t off = page; off + page <= size; off += page) overwrite(db(), off, random_bytes(12, off));

    EXPECT_TRUE(failed_cleanly(scan(), 5, "damaged"));
    EXPECT_TRUE(failed_cleanly(dedup(), 5, "damaged"));
    EXPECT_TRUE(failed_cleanly(report(), 5, "damaged"));
    expect_healthy_run_after_removing_catalog();
}

// Bytes in the middle of every page: often free space or row payload, which SQLite cannot
// tell from real data. Any documented outcome, but clean, and the files never change (the
// kernel compares the bytes before sharing).
TEST_F(CatalogFaults, CorruptMiddleOfPagesNeverTouchesData) {
    make_catalog();
    const auto size = fs::file_size(db());
    const auto page = static_cast<std::uint64_t>(query_int(db(), "PRAGMA page_size"));
    ASSERT_GT(page, 0u);
    for (std::uint64_t off = page; off + page <= size; off += page) {
        overwrite(db(), off + page / 2 - 32, random_bytes(64, off));
    }
    const CliRun s = scan();
    EXPECT_TRUE(ended_cleanly(s.process));
    const CliRun d = dedup();
    EXPECT_TRUE(ended_cleanly(d.process));
    const CliRun rep = report();
    EXPECT_TRUE(ended_cleanly(rep.process));
    expect_healthy_run_after_removing_catalog();
}

// Mode 0444 for a non-root owner: writers fail with one line, readers still read.
TEST_F(CatalogFaults, ReadOnlyModeForNonRootUser) {
    ASSERT_EQ(::chown((base_ / "cat").c_str(), kNobody, kNobody), 0);
    const auto as_nobody = [&](std::vector<std::string> args) {
        std::vector<std::string> argv{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", RDD_BINARY};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_process(argv);
    };
    // No CAP_SYS_ADMIN: btrfs tree search is not allowed, --walk walks.
    const ProcessResult first = as_nobody({"scan-vol", "--walk", "--db", db().string(), data().string()});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    ASSERT_FALSE(fs::exists(db().string() + "-wal"));
    fs::permissions(db(), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    const std::string content = sha256_file(db());

    EXPECT_TRUE(failed_cleanly(as_nobody({"scan-vol", "--walk", "--db", db().string(), data().string()}), 5,
                               db().string()));
    const ProcessResult rep = as_nobody({"report", "--db", db().string()});
    EXPECT_EQ(rep.exit_code, 0) << rep.err;
    EXPECT_TRUE(ended_cleanly(rep));
    EXPECT_EQ(sha256_file(db()), content);
    EXPECT_EQ(fs::status(db()).permissions(), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
}

TEST_F(CatalogFaults, ImmutableCatalog) {
    make_catalog();
    const ClearImmutableOnExit unfreeze{{db()}};
    set_immutable(db(), true);
    const std::string content = sha256_file(db());

    EXPECT_TRUE(failed_cleanly(scan(), 5, db().string()));
    EXPECT_TRUE(failed_cleanly(dedup(), 5, db().string()));
    const CliRun rep = report();
    EXPECT_EQ(rep.process.exit_code, 0) << describe(rep);
    EXPECT_TRUE(ended_cleanly(rep.process));
    EXPECT_EQ(sha256_file(db()), content);
    EXPECT_NE(inode_flags(db()) & FS_IMMUTABLE_FL, 0u) << "someone else's flag was cleared";
}

// The catalog on a tmpfs of our own that is then remounted read-only.
TEST_F(CatalogFaults, ReadOnlyMount) {
    const TempDir dir(data_fs_->temp_dir());
    fs::create_directory(dir.path() / "mnt");
    Mount tmp("tmpfs", dir.path() / "mnt", "tmpfs", "size=16m,mode=0700");
    const fs::path cat = dir.path() / "mnt/catalog.sqlite";
    const auto run_with = [&](const std::string& command, bool path) {
        std::vector<std::string> args{command, "--db", cat.string()};
        if (command == "dedup-vol") args.insert(args.end(), {"--state-dir", (base_ / "state").string()});
        if (path) args.push_back(data().string());
        return run_reflinkdedup(args);
    };
    ASSERT_EQ(run_with("scan-vol", true).process.exit_code, 0);
    tmp.remount(/*read_only=*/true);

    EXPECT_TRUE(failed_cleanly(run_with("scan-vol", true), 5, cat.string()));
    EXPECT_TRUE(failed_cleanly(run_with("dedup-vol", true), 5, cat.string()));
    const CliRun rep = run_with("report", false);
    EXPECT_TRUE(ended_cleanly(rep.process));
    EXPECT_EQ(rep.process.exit_code, 0) << describe(rep);
    tmp.remount(/*read_only=*/false);
    const CliRun again = run_with("dedup-vol", true);
    EXPECT_EQ(again.process.exit_code, 0) << describe(again);
}

// A newer reflinkdedup's catalog is an input error, and left exactly as it was.
TEST_F(CatalogFaults, NewerSchemaIsLeftAlone) {
    make_catalog();
    const std::int64_t version = query_int(db(), "PRAGMA user_version");
    ASSERT_GT(version, 0);
    with_sqlite(db(), "PRAGMA user_version = " + std::to_string(version + 1) +
                          "; CREATE TABLE from_the_future(x); PRAGMA wal_checkpoint(TRUNCATE)");
    for (const char* suffix : {"-wal", "-shm"}) fs::remove(db().string() + suffix);
    const std::string content = sha256_file(db());

    const std::string says = "schema version " + std::to_string(version + 1);
    EXPECT_TRUE(failed_cleanly(scan(), 2, says));
    EXPECT_TRUE(failed_cleanly(dedup(), 2, says));
    EXPECT_TRUE(failed_cleanly(report(), 2, says));
    EXPECT_TRUE(failed_cleanly(cmd("show-vols", {}, false), 2, says));
    EXPECT_EQ(sha256_file(db()), content) << "a newer catalog was modified";
    EXPECT_EQ(query_int(db(), "PRAGMA user_version"), version + 1);
}

// Another reflinkdedup holds the writer lock (stopped with SIGSTOP while it does): writers
// give up after --wait with exit 3, readers are not held up; once it goes on, all is well.
TEST_F(CatalogFaults, HeldByAnotherProcess) {
    make_catalog();
    const fs::path lock = db().string() + ".lock";
    std::vector<std::string> argv{RDD_BINARY};
    for (const auto& a : common("scan-vol")) argv.push_back(a);
    argv.push_back("--rehash");
    argv.push_back(data().string());
    Spawned holder(argv, base_ / "out", base_ / "err");
    ASSERT_GT(holder.pid(), 0);
    const bool held = poll_until([&] { return writer_lock_held(lock); }, [&] { return holder.running(); });
    if (held) ::kill(holder.pid(), SIGSTOP);
    // SIGSTOP can land inside SQLite's commit, while it rewrites the WAL index header; readers
    // then wait for it as for any writer mid-commit (and give up with "locking protocol").
    // What is tested is our writer lock: stop it again until it is outside a commit.
    for (int i = 0; held && i < 20 && query_int(db(), "SELECT count(*) FROM file") < 0; ++i) {
        ::kill(holder.pid(), SIGCONT);
        std::this_thread::sleep_for(5ms);
        ::kill(holder.pid(), SIGSTOP);
    }
    struct Resume {
        pid_t pid;
        ~Resume() { ::kill(pid, SIGCONT); }
    } resume{holder.pid()};
    ASSERT_TRUE(held) << "the holder ended before it was seen holding the lock";
    ASSERT_TRUE(writer_lock_held(lock));

    EXPECT_TRUE(failed_cleanly(scan({"--wait", "0"}), 3, "another reflinkdedup"));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(failed_cleanly(dedup({"--wait", "300ms"}), 3, "another reflinkdedup"));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
    const CliRun rep = report();
    EXPECT_EQ(rep.process.exit_code, 0) << describe(rep);

    ::kill(holder.pid(), SIGCONT);
    const ProcessResult h = holder.wait();
    EXPECT_EQ(h.exit_code, 0) << h.err;
    const CliRun after = dedup({"--wait", "0"});
    EXPECT_EQ(after.process.exit_code, 0) << describe(after);
}

// The catalog's filesystem (a small tmpfs of our own) is full: SQLITE_FULL, exit 5, one line;
// after room is made the catalog is intact and the next run succeeds.
TEST_F(CatalogFaults, FilesystemFull) {
    const TempDir dir(data_fs_->temp_dir());
    fs::create_directory(dir.path() / "mnt");
    const Mount tmp("tmpfs", dir.path() / "mnt", "tmpfs", "size=4m,mode=0700");
    const fs::path cat = dir.path() / "mnt/catalog.sqlite", filler = dir.path() / "mnt/filler";
    const fs::path more = base_ / "more";  // files of this test only, scanned with the shared ones
    fs::create_directory(more);
    const auto run_with = [&](const std::string& command, std::vector<std::string> extra = {}) {
        std::vector<std::string> args{command, "--db", cat.string()};
        if (command == "dedup-vol") args.insert(args.end(), {"--state-dir", (base_ / "state").string()});
        args.insert(args.end(), extra.begin(), extra.end());
        args.insert(args.end(), {data().string(), more.string()});
        return run_reflinkdedup(args);
    };
    const auto fill = [&] {
        // Whole pages until ENOSPC (dd stops there and says so).
        (void)run_process({"dd", "if=/dev/zero", "of=" + filler.string(), "bs=4096", "status=none"});
        const auto space = fs::space(filler.parent_path());
        ASSERT_EQ(space.available, 0u);
    };

    // 1. No room to create it at all.
    fill();
    EXPECT_TRUE(failed_cleanly(run_with("scan-vol"), 5, "full"));  // SQLITE_FULL: "database or disk is full"
    fs::remove(filler);
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(cat.string() + suffix);

    // 2. A catalog that exists, new files to record, no room to record them (the -shm cannot
    //    grow: SQLITE_IOERR, whose errno says why).
    ASSERT_EQ(run_with("scan-vol").process.exit_code, 0);
    for (int i = 0; i < 12; ++i) {
        write_random_file(more / ("new" + std::to_string(i)), 64 * kKiB, 500 + static_cast<std::uint64_t>(i % 3));
    }
    const TreeState before = tree_state(more);
    fill();
    EXPECT_TRUE(failed_cleanly(run_with("dedup-vol"), 5, "No space left on device"));
    expect_same_tree(before, more);

    fs::remove(filler);
    const CliRun again = run_with("dedup-vol", {"--json"});
    ASSERT_EQ(again.process.exit_code, 0) << describe(again);
    EXPECT_EQ(again.json["skipped_count"], 0);
    EXPECT_EQ(bytes_shared_with(more / "new0", more / "new3"), 64 * kKiB);
    expect_same_tree(before, more);
}

}  // namespace
}  // namespace rdd::test::faults
