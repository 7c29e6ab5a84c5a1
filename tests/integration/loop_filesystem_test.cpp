// Self-test of tests/support: the loop-mounted filesystem fixture, the process runner and the
// file/extent checks that the product's integration tests rely on as independent witnesses.
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "reflinkdedup/util/sys_error.hpp"
#include "reflinkdedup/util/unique_fd.hpp"
#include "support/file_checks.hpp"
#include "support/fs_kind_param.hpp"
#include "support/loop_filesystem.hpp"
#include "support/process.hpp"

namespace rdd::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

bool mounted_at(const fs::path& mount_point) {
    for (const auto& e : read_mountinfo()) {
        if (e.mount_point == mount_point.string()) return true;
    }
    return false;
}

bool any_mount_under(const fs::path& dir) {
    for (const auto& e : read_mountinfo()) {
        if (starts_with(e.mount_point, dir.string() + "/")) return true;
    }
    return false;
}

bool any_loop_backed_under(const fs::path& dir) {
    for (const auto& l : list_loop_devices()) {
        if (starts_with(l.backing_file, dir.string() + "/")) return true;
    }
    return false;
}

// Polls for up to `limit`: a loop device whose last user just went away detaches asynchronously.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
    for (auto waited = 0ms; waited < limit; waited += 50ms) {
        if (pred()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return pred();
}

// A private parent for fixtures, with a space in its name to exercise path escaping. Named
// like a fixture dir so scripts/cleanup-test-mounts.sh also covers it after a crash.
// Removed with rmdir only: if a fixture left anything inside, it stays for inspection.
class ParentDir {
public:
    ParentDir() {
        std::string pattern = (test_tmp_base() / "reflinkdedup-test.self test.XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw_errno("mkdtemp", pattern);
        path_ = fs::canonical(pattern);
    }
    ~ParentDir() { ::rmdir(path_.c_str()); }
    ParentDir(const ParentDir&) = delete;
    ParentDir& operator=(const ParentDir&) = delete;

    [[nodiscard]] const fs::path& path() const { return path_; }
    [[nodiscard]] bool empty() const { return fs::is_empty(path_); }

private:
    fs::path path_;
};

class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value != nullptr) ::setenv(name, value, 1);
        else ::unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_) ::setenv(name_, old_->c_str(), 1);
        else ::unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

// ---- No root needed.

TEST(LoopFilesystemSupport, RunProcessDrainsBothLargeStreams) {
    // 3 MB on each stream is far beyond a pipe buffer: a reader of one stream only would hang.
    const auto r = run_process({"sh", "-c", "head -c 3000000 /dev/zero; head -c 3000000 /dev/zero >&2; exit 3"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.term_signal, 0);
    EXPECT_EQ(r.out.size(), 3000000U);
    EXPECT_EQ(r.err.size(), 3000000U);
}

TEST(LoopFilesystemSupport, RunProcessReportsSignalAndEnvironment) {
    const auto killed = run_process({"sh", "-c", "kill -TERM $$"});
    EXPECT_EQ(killed.term_signal, SIGTERM);
    EXPECT_EQ(killed.exit_code, -1);
    EXPECT_FALSE(killed.ok());

    const auto env = run_checked({"env"}, ProcessOptions{{{"RDD_SELFTEST_VAR", "a b"}}});
    EXPECT_NE(env.out.find("\nRDD_SELFTEST_VAR=a b\n"), std::string::npos);
}

TEST(LoopFilesystemSupport, RunCheckedThrowsWithStderr) {
    try {
        (void)run_checked({"sh", "-c", "echo partial; echo boom >&2; exit 2"});
        FAIL() << "no exception";
    } catch (const ProcessError& e) {
        EXPECT_NE(std::string(e.what()).find("exit status 2: boom"), std::string::npos) << e.what();
        EXPECT_EQ(e.result().out, "partial\n");
    }
    EXPECT_THROW((void)run_process({"rdd-no-such-program"}), SysError);
}

TEST(LoopFilesystemSupport, RequireRootTestsFollowsEnvironment) {
    {
        ScopedEnv env("RDD_REQUIRE_ROOT_TESTS", "1");
        EXPECT_TRUE(root_tests_required());
    }
    {
        ScopedEnv env("RDD_REQUIRE_ROOT_TESTS", "0");
        EXPECT_FALSE(root_tests_required());
    }
    {
        ScopedEnv env("RDD_REQUIRE_ROOT_TESTS", nullptr);
        EXPECT_FALSE(root_tests_required());
    }
}

TEST(LoopFilesystemSupport, BytesSharedWithComparesPhysicalMapping) {
    const std::vector<PhysExtent> a{{0, 1000 * kMiB, 4 * kMiB, 0}, {4 * kMiB, 9000 * kMiB, 4 * kMiB, 0}};
    // First MiB maps like a, the next 3 MiB elsewhere, then an extent straddling a's two
    // extents whose second half lines up with a's second extent.
    const std::vector<PhysExtent> b{{0, 1000 * kMiB, 1 * kMiB, 0},
                                    {1 * kMiB, 5000 * kMiB, 3 * kMiB, 0},
                                    {4 * kMiB, 9000 * kMiB, 2 * kMiB, FIEMAP_EXTENT_LAST}};
    EXPECT_EQ(bytes_shared_with(a, b), 3 * kMiB);
    EXPECT_EQ(bytes_shared_with(a, a), 8 * kMiB);

    const std::vector<PhysExtent> delalloc{{0, 1000 * kMiB, 4 * kMiB, FIEMAP_EXTENT_DELALLOC}};
    EXPECT_EQ(bytes_shared_with(a, delalloc), 0U);

    const PhysExtent enc{0, 1000 * kMiB, 4 * kMiB, FIEMAP_EXTENT_ENCODED};
    EXPECT_EQ(bytes_shared_with({enc}, {enc}), 4 * kMiB);
    EXPECT_EQ(bytes_shared_with({enc}, {PhysExtent{0, 1000 * kMiB, 2 * kMiB, FIEMAP_EXTENT_ENCODED}}), 0U);
    EXPECT_EQ(bytes_shared_with({enc}, {PhysExtent{0, 1000 * kMiB, 4 * kMiB, 0}}), 0U);
}

// ---- A mounted filesystem per test.

class LoopFilesystemTest : public LoopFsTest {};

TEST_P(LoopFilesystemTest, MountsRealFilesystemOfTheRightKind) {
    struct statfs st {};
    ASSERT_EQ(::statfs(fs().mount_point().c_str(), &st), 0);
    const auto magic = static_cast<std::uint32_t>(st.f_type);
    EXPECT_EQ(magic, GetParam() == FsKind::Btrfs ? BTRFS_SUPER_MAGIC : XFS_SUPER_MAGIC);

    EXPECT_TRUE(starts_with(fs().device(), "/dev/loop")) << fs().device();
    EXPECT_TRUE(starts_with(fs().temp_dir().filename().string(), "reflinkdedup-test.")) << fs().temp_dir();
    EXPECT_EQ(fs().kind(), GetParam());

    bool listed = false;
    for (const auto& e : read_mountinfo()) {
        listed = listed || (e.mount_point == fs().mount_point().string() && e.source == fs().device() &&
                            e.fstype == to_string(GetParam()));
    }
    EXPECT_TRUE(listed);

    struct stat img {};
    ASSERT_EQ(::stat(fs().image().c_str(), &img), 0);
    EXPECT_EQ(static_cast<std::uint64_t>(img.st_size), LoopFilesystem::kDefaultImageBytes);
    EXPECT_LT(static_cast<std::uint64_t>(img.st_blocks) * 512, LoopFilesystem::kDefaultImageBytes / 2) << "image not sparse";
}

TEST_P(LoopFilesystemTest, ReflinkCopySharesEverything) {
    write_random_file(path("a"), 64 * kMiB, 1);
    run_checked({"cp", "--reflink=always", path("a").string(), path("b").string()});
    EXPECT_EQ(sha256_file(path("a")), sha256_file(path("b")));

    const auto extents = fiemap_extents(path("b"));
    ASSERT_FALSE(extents.empty());
    for (const auto& e : extents) EXPECT_NE(e.flags & FIEMAP_EXTENT_SHARED, 0U) << "at " << e.logical;
    EXPECT_NE(extents.back().flags & FIEMAP_EXTENT_LAST, 0U);
    EXPECT_EQ(bytes_shared_with(path("a"), path("b")), 64 * kMiB);
}

TEST_P(LoopFilesystemTest, PlainCopySharesNothing) {
    write_random_file(path("a"), 64 * kMiB, 2);
    run_checked({"cp", "--reflink=never", path("a").string(), path("b").string()});
    EXPECT_EQ(sha256_file(path("a")), sha256_file(path("b")));
    EXPECT_EQ(bytes_shared_with(path("a"), path("b")), 0U);
    for (const auto& e : fiemap_extents(path("b"))) EXPECT_EQ(e.flags & FIEMAP_EXTENT_SHARED, 0U);
}

TEST_P(LoopFilesystemTest, RandomFilesAreDeterministicPrefixes) {
    write_random_file(path("a"), 3 * kMiB + 5, 7);
    write_random_file(path("b"), 3 * kMiB + 5, 7);
    write_random_file(path("c"), 3 * kMiB + 5, 8);
    write_random_file(path("long"), 5 * kMiB, 7);
    EXPECT_EQ(fs::file_size(path("a")), 3 * kMiB + 5);
    EXPECT_EQ(sha256_file(path("a")), sha256_file(path("b")));
    EXPECT_NE(sha256_file(path("a")), sha256_file(path("c")));
    ::truncate(path("long").c_str(), static_cast<off_t>(3 * kMiB + 5));
    EXPECT_EQ(sha256_file(path("a")), sha256_file(path("long")));
}

TEST_P(LoopFilesystemTest, FreeBytesRiseAfterDeletingSyncedFile) {
    write_random_file(path("big"), 64 * kMiB, 3);
    fs().sync();
    const std::uint64_t before = fs().free_bytes();
    fs::remove(path("big"));
    const std::uint64_t after = fs().free_bytes();
    ASSERT_GT(after, before);
    EXPECT_GE(after - before, 60 * kMiB) << "before " << before << " after " << after;
}

TEST_P(LoopFilesystemTest, RemountReadOnlyAndBack) {
    fs().remount_ro();
    const int fd = ::open(path("x").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    const int err = errno;
    EXPECT_EQ(fd, -1);
    EXPECT_EQ(err, EROFS);
    if (fd >= 0) ::close(fd);
    fs().remount_rw();
    write_random_file(path("x"), 4096, 4);
}

TEST_P(LoopFilesystemTest, MetadataSnapshotSeesEveryChange) {
    write_random_file(path("f"), 8192, 5);
    const auto base = snapshot_metadata(path("f"));
    EXPECT_EQ(base, snapshot_metadata(path("f")));
    EXPECT_EQ(base.size, 8192U);
    EXPECT_EQ(base.nlink, 1U);
    ASSERT_TRUE(base.inode_flags.has_value());

    ASSERT_EQ(::lsetxattr(path("f").c_str(), "user.rdd", "v\0x", 3, 0), 0);
    const auto with_xattr = snapshot_metadata(path("f"));
    ASSERT_EQ(with_xattr.xattrs.count("user.rdd"), 1U);
    EXPECT_EQ(with_xattr.xattrs.at("user.rdd"), std::string("v\0x", 3));
    EXPECT_NE(base, with_xattr);
    const std::string diff = describe_differences(base, with_xattr);
    EXPECT_NE(diff.find("xattr user.rdd: only in second"), std::string::npos) << diff;
    EXPECT_NE(diff.find("ctime"), std::string::npos) << diff;

    ASSERT_EQ(::chmod(path("f").c_str(), 0600), 0);
    EXPECT_NE(snapshot_metadata(path("f")).mode, with_xattr.mode);

    // Symlinks are described, not followed.
    fs::create_symlink("f", path("link"));
    const auto link = snapshot_metadata(path("link"));
    EXPECT_TRUE(S_ISLNK(link.mode));
    EXPECT_FALSE(link.inode_flags.has_value());
}

TEST_P(LoopFilesystemTest, ImmutableAndNocowFlags) {
    write_random_file(path("f"), 4096, 6);
    set_immutable(path("f"), true);
    EXPECT_NE(*snapshot_metadata(path("f")).inode_flags & FS_IMMUTABLE_FL, 0U);
    EXPECT_EQ(::open(path("f").c_str(), O_WRONLY | O_CLOEXEC), -1);
    EXPECT_EQ(errno, EPERM);
    set_immutable(path("f"), false);
    EXPECT_EQ(*snapshot_metadata(path("f")).inode_flags & FS_IMMUTABLE_FL, 0U);

    if (GetParam() != FsKind::Btrfs) return;  // NOCOW is a btrfs flag
    { UniqueFd fd(::open(path("n").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644)); }
    set_nocow(path("n"));
    EXPECT_NE(*snapshot_metadata(path("n")).inode_flags & FS_NOCOW_FL, 0U);
    EXPECT_THROW(set_nocow(path("f")), std::invalid_argument);  // has data
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(LoopFilesystemTest);

// ---- Setup and teardown themselves.

class LoopFilesystemLifecycle : public ::testing::TestWithParam<FsKind> {
protected:
    void SetUp() override { RDD_REQUIRE_LOOP_FS(GetParam()); }

    static LoopFsOptions options_in(const ParentDir& parent) {
        LoopFsOptions options;
        options.parent_dir = parent.path();
        return options;
    }

    // Nothing of a fixture may remain under parent: no entry, mount or loop device.
    static void expect_nothing_left(const ParentDir& parent) {
        EXPECT_TRUE(parent.empty()) << parent.path();
        EXPECT_FALSE(any_mount_under(parent.path()));
        EXPECT_TRUE(eventually([&] { return !any_loop_backed_under(parent.path()); }));
    }
};

TEST_P(LoopFilesystemLifecycle, DestructorUnmountsDetachesAndRemoves) {
    ParentDir parent;
    std::optional<LoopFilesystem> lfs;
    lfs.emplace(GetParam(), options_in(parent));
    const fs::path mount_point = lfs->mount_point();
    const fs::path image = lfs->image();
    write_random_file(lfs->path("f"), kMiB, 1);
    ASSERT_TRUE(mounted_at(mount_point));
    lfs.reset();

    EXPECT_FALSE(mounted_at(mount_point));
    for (const auto& l : list_loop_devices()) EXPECT_NE(l.backing_file, image.string()) << l.device;
    EXPECT_FALSE(fs::exists(image));
    expect_nothing_left(parent);
}

TEST_P(LoopFilesystemLifecycle, BusyMountIsUnmountedLazily) {
    ParentDir parent;
    std::optional<LoopFilesystem> lfs;
    lfs.emplace(GetParam(), options_in(parent));
    const fs::path mount_point = lfs->mount_point();
    UniqueFd busy(::open(lfs->path("held").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(busy.valid());
    lfs.reset();  // EBUSY for ~1 s, then MNT_DETACH

    EXPECT_FALSE(mounted_at(mount_point));
    busy.reset();  // last user gone: the kernel finishes the unmount and autoclears the loop
    expect_nothing_left(parent);
}

TEST_P(LoopFilesystemLifecycle, ExternalUnmountIsTolerated) {
    ParentDir parent;
    std::optional<LoopFilesystem> lfs;
    lfs.emplace(GetParam(), options_in(parent));
    ASSERT_EQ(::umount2(lfs->mount_point().c_str(), 0), 0);
    lfs.reset();
    expect_nothing_left(parent);
}

TEST_P(LoopFilesystemLifecycle, FailedMkfsLeavesNothingBehind) {
    ParentDir parent;
    LoopFsOptions options = options_in(parent);
    options.image_bytes = kMiB;  // below both mkfs minimums
    EXPECT_THROW(LoopFilesystem(GetParam(), options), ProcessError);
    expect_nothing_left(parent);
}

TEST_P(LoopFilesystemLifecycle, FailedMountLeavesNothingBehind) {
    ParentDir parent;
    LoopFsOptions options = options_in(parent);
    options.mount_data = "rdd_no_such_option";
    try {
        LoopFilesystem lfs(GetParam(), options);
        ADD_FAILURE() << "mount with a bogus option succeeded";
    } catch (const SysError& e) {
        EXPECT_EQ(e.err(), EINVAL) << e.what();
    }
    expect_nothing_left(parent);
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(LoopFilesystemLifecycle);

}  // namespace
}  // namespace rdd::test
