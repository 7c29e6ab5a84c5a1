// Hostile surroundings: a user without privileges (on files it may or may not read or write),
// filesystems that cannot share extents (tmpfs, ext4, XFS with reflink=0) and a read-only
// btrfs mount. Refusals are one line with exit 2; what is done is correct; nothing else changes.
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <memory>

#include "hostile_input_support.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::test::hostile {
namespace {

constexpr std::uint64_t kSize = 256 * kKiB;
constexpr unsigned kNobody = 65534;

// Content, metadata and extent map of each path, to compare after the runs.
class Untouched {
public:
    void add(const fs::path& p) { state_[p] = {sha256_file(p), snapshot_metadata(p), extents(p)}; }
    void expect_same() const {
        for (const auto& [p, s] : state_) {
            EXPECT_EQ(sha256_file(p), s.sum) << p;
            EXPECT_EQ(describe_differences(snapshot_metadata(p), s.meta), "") << p;
            EXPECT_EQ(extents(p), s.extents) << p << ": extents changed";
        }
    }

private:
    // tmpfs has no FIEMAP: nothing to compare there.
    static std::vector<PhysExtent> extents(const fs::path& p) {
        try {
            return fiemap_extents(p);
        } catch (const std::exception&) {
            return {};
        }
    }
    struct State {
        std::string sum;
        MetadataSnapshot meta;
        std::vector<PhysExtent> extents;
    };
    std::map<fs::path, State> state_;
};

// ---- A user without privileges.

class HostileUser : public LoopFsTest {
protected:
    void SetUp() override {
        LoopFsTest::SetUp();
        if (HasFatalFailure() || IsSkipped()) return;
        if (!find_program("setpriv")) GTEST_SKIP() << "setpriv (util-linux) not found";
        // nobody must reach the mount point through the fixture's 0700 temp dir.
        fs::permissions(fs().temp_dir(), fs::perms::others_exec, fs::perm_options::add);
        dbdir_ = fs().temp_dir() / "nobody";
        fs::create_directories(dbdir_);
        ASSERT_EQ(::chown(dbdir_.c_str(), kNobody, kNobody), 0);
    }
    CliRun as_nobody(std::vector<std::string> args) {
        return run_limited(args, 60,
                           {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                            "--bounding-set=-all"});
    }
    // dir/own1, dir/own2 (nobody's), dir/rootro (root 0644), dir/rootpriv (root 0600) and
    // dir/secret/s (in a root 0700 directory): five copies of the same data.
    void make_files(const fs::path& dir) {
        fs::create_directories(dir / "secret");
        for (const char* f : {"own1", "own2", "rootro", "rootpriv", "secret/s"}) write_random_file(dir / f, kSize, 3);
        ASSERT_EQ(::chown(dir.c_str(), kNobody, kNobody), 0);
        ASSERT_EQ(::chown((dir / "own1").c_str(), kNobody, kNobody), 0);
        ASSERT_EQ(::chown((dir / "own2").c_str(), kNobody, kNobody), 0);
        ASSERT_EQ(::chmod((dir / "rootpriv").c_str(), 0600), 0);
        ASSERT_EQ(::chmod((dir / "secret").c_str(), 0700), 0);
        fs().sync();
        for (const char* f : {"rootro", "rootpriv", "secret/s"}) untouched_.add(dir / f);
    }

    fs::path dbdir_;
    Untouched untouched_;
};

TEST_P(HostileUser, SharesItsOwnFilesAndLeavesTheRestAlone) {
    make_files(path("files"));
    make_files(path("vol"));
    const fs::path own1 = path("files/own1"), own2 = path("files/own2");
    const std::string sum = sha256_file(own1);

    // dedup-files: its own destination is shared; root's are listed (unreadable, or not
    // writable by it) and left as they are.
    const CliRun files = as_nobody({"dedup-files", "--json", own1, own2, path("files/rootro"), path("files/rootpriv")});
    EXPECT_EQ(files.process.exit_code, 1) << describe(files);
    ASSERT_TRUE(files.json.is_object()) << describe(files);
    EXPECT_EQ(files.json["skipped"].size(), 2u) << files.process.out;
    EXPECT_EQ(bytes_shared_with(own1, own2), kSize);
    // A SOURCE it cannot read is refused.
    expect_refused(as_nobody({"dedup-files", path("files/rootpriv"), own1}), path("files/rootpriv").string());

    // scan-vol / dedup-vol walk (tree search needs CAP_SYS_ADMIN): unreadable files and
    // directories are listed, exit 1, the rest is catalogued and shared.
    const std::string db = (dbdir_ / "c.sqlite").string();
    const CliRun scan = as_nobody({"scan-vol", "--walk", "--json", "--db", db, path("vol")});
    EXPECT_EQ(scan.process.exit_code, 1) << describe(scan);
    ASSERT_TRUE(scan.json.is_object()) << describe(scan);
    EXPECT_EQ(scan.json["files_hashed"], 3) << scan.process.out;  // own1, own2, rootro
    EXPECT_EQ(scan.json["error_count"], 2) << scan.process.out;  // rootpriv, secret/
    const std::string errors = scan.json["errors"].dump();
    EXPECT_NE(errors.find("rootpriv: "), std::string::npos) << errors;
    EXPECT_NE(errors.find("secret: "), std::string::npos) << errors;
    const CliRun run = as_nobody({"dedup-vol", "--walk", "--json", "--db", db, path("vol")});
    EXPECT_EQ(run.process.exit_code, 1) << describe(run);
    ASSERT_TRUE(run.json.is_object()) << describe(run);
    EXPECT_EQ(bytes_shared_with(path("vol/own1"), path("vol/own2")), kSize);

    for (const char* f : {"files/own1", "files/own2", "vol/own1", "vol/own2"}) EXPECT_EQ(sha256_file(path(f)), sum) << f;
    untouched_.expect_same();
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(HostileUser);

// ---- Filesystems that cannot share extents.

// mkfs on a sparse image, a loop device and a mount, undone in reverse order.
class PlainLoopFs {
public:
    PlainLoopFs(const std::vector<std::string>& mkfs, std::uint64_t bytes, const std::string& fstype)
        : dir_(test_tmp_base()), image_(make_image(dir_.path(), mkfs, bytes)), loop_(image_),
          mount_(loop_.device(), make_dir(dir_.path() / "mnt"), fstype) {}
    [[nodiscard]] const fs::path& mount_point() const { return mount_.target(); }
    [[nodiscard]] const fs::path& temp_dir() const { return dir_.path(); }

private:
    static fs::path make_image(const fs::path& dir, std::vector<std::string> mkfs, std::uint64_t bytes) {
        const fs::path image = dir / "image";
        run_checked({"truncate", "-s", std::to_string(bytes), image.string()});
        mkfs.push_back(image.string());
        run_checked(mkfs);
        return image;
    }
    static fs::path make_dir(const fs::path& p) {
        fs::create_directories(p);
        return p;
    }

    TempDir dir_;
    fs::path image_;
    LoopDevice loop_;
    Mount mount_;
};

// A tmpfs in its own temp dir.
class TmpfsMount {
public:
    TmpfsMount() : dir_(test_tmp_base()), mount_("tmpfs", make_dir(dir_.path() / "mnt"), "tmpfs", "size=8m") {}
    [[nodiscard]] const fs::path& mount_point() const { return mount_.target(); }
    [[nodiscard]] const fs::path& temp_dir() const { return dir_.path(); }

private:
    static fs::path make_dir(const fs::path& p) {
        fs::create_directories(p);
        return p;
    }
    TempDir dir_;
    Mount mount_;
};

// scan-vol, dedup-vol and dedup-files each refuse with one line naming the filesystem; no
// catalog is created and the duplicates stay as they were.
template <typename Fs>
void expect_all_refused(const Fs& where, const std::string& type_name) {
    const fs::path a = where.mount_point() / "a b", b = where.mount_point() / "b\nc";
    write_random_file(a, kSize, 9);
    write_random_file(b, kSize, 9);
    Untouched untouched;
    untouched.add(a);
    untouched.add(b);
    const std::string db = (where.temp_dir() / "c.sqlite").string();
    const std::string why = "on " + type_name + ", which cannot share extents";
    SCOPED_TRACE(type_name);
    expect_refused(run_limited({"scan-vol", "--db", db, where.mount_point()}), why);
    expect_refused(run_limited({"dedup-vol", "--json", "--db", db, where.mount_point()}), why);
    expect_refused(run_limited({"dedup-files", a, b}), why);
    EXPECT_FALSE(fs::exists(db));
    untouched.expect_same();
}

TEST(HostileFilesystems, TmpfsExt4AndXfsWithoutReflinkAreRefusedWithOneLine) {
    RDD_REQUIRE_LOOP_FS(FsKind::Xfs);
    expect_all_refused(TmpfsMount(), "tmpfs");
    if (!find_program("mkfs.ext4")) {
        if (root_tests_required()) FAIL() << "mkfs.ext4 (e2fsprogs) not found";
        GTEST_SKIP() << "mkfs.ext4 (e2fsprogs) not found";
    }
    expect_all_refused(PlainLoopFs({"mkfs.ext4", "-q", "-F"}, 64 * kMiB, "ext4"), "ext4");
    expect_all_refused(PlainLoopFs({"mkfs.xfs", "-f", "-q", "-m", "reflink=0"}, 320 * kMiB, "xfs"),
                       "xfs without reflink");
}

// ---- A read-only btrfs mount: it can be catalogued, but nothing on it can be shared.

TEST(HostileFilesystems, ReadOnlyBtrfsIsScannedButNeverChanged) {
    RDD_REQUIRE_LOOP_FS(FsKind::Btrfs);
    LoopFilesystem fs(FsKind::Btrfs, LoopFsOptions{});
    write_random_file(fs.path("a"), kSize, 10);
    write_random_file(fs.path("b"), kSize, 10);
    fs.sync();
    fs.remount_ro();
    Untouched untouched;
    untouched.add(fs.path("a"));
    untouched.add(fs.path("b"));
    const std::string db = (fs.temp_dir() / "c.sqlite").string();

    const CliRun scan = run_limited({"scan-vol", "--json", "--db", db, fs.mount_point()});
    EXPECT_EQ(scan.process.exit_code, 0) << describe(scan);
    EXPECT_EQ(scan.json["files_hashed"], 2) << scan.process.out;
    const CliRun dry = run_limited({"dedup-vol", "--dry-run", "--json", "--db", db, fs.mount_point()});
    EXPECT_EQ(dry.process.exit_code, 0) << describe(dry);  // planning changes nothing
    EXPECT_EQ(dry.json["bytes_dedupable"], kSize) << dry.process.out;
    // A real dedup-vol is refused up front (the next test).
    expect_refused(run_limited({"dedup-files", fs.path("a"), fs.path("b")}), "read-only");
    EXPECT_EQ(bytes_shared_with(fs.path("a"), fs.path("b")), 0u);
    untouched.expect_same();
}

// dedup-vol must refuse a read-only mount up front as dedup-files does (exit 2, one line).
TEST(HostileFilesystems, ReadOnlyBtrfsDedupVolIsRefusedWithOneLine) {
    RDD_REQUIRE_LOOP_FS(FsKind::Btrfs);
    LoopFilesystem fs(FsKind::Btrfs, LoopFsOptions{});
    write_random_file(fs.path("a"), kSize, 11);
    write_random_file(fs.path("b"), kSize, 11);
    fs.sync();
    fs.remount_ro();
    const std::string db = (fs.temp_dir() / "c.sqlite").string();
    expect_refused(run_limited({"dedup-vol", "--json", "--db", db, fs.mount_point()}), "read-only");
    EXPECT_EQ(bytes_shared_with(fs.path("a"), fs.path("b")), 0u);
}

}  // namespace
}  // namespace rdd::test::hostile
