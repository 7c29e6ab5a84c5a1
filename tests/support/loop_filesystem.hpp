#pragma once
// A real btrfs or XFS filesystem for a test: a sparse image in a private temp dir, attached to
// a dynamically allocated loop device and mounted, all undone by the destructor. Needs root.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace rdd::test {

enum class FsKind { Btrfs, Xfs };

// The kernel's type name: "btrfs" / "xfs" (also used in test names).
[[nodiscard]] constexpr std::string_view to_string(FsKind kind) noexcept {
    return kind == FsKind::Btrfs ? "btrfs" : "xfs";
}
std::ostream& operator<<(std::ostream& os, FsKind kind);

// ${RDD_TEST_TMPDIR:-/tmp}: where fixtures put their reflinkdedup-test.XXXXXX dirs.
[[nodiscard]] std::filesystem::path test_tmp_base();

// Why a loop-mounted `kind` cannot be made here (not root, no /dev/loop-control, no mkfs
// tool or losetup, kernel lacks the fs even after one modprobe), or nullopt when it can.
[[nodiscard]] std::optional<std::string> loop_prerequisites_missing(FsKind kind);

// True when RDD_REQUIRE_ROOT_TESTS is set to anything but "" or "0" (CI sets 1).
[[nodiscard]] bool root_tests_required();

// Skips the current test when loop_prerequisites_missing(kind) gives a reason, or fails it
// when RDD_REQUIRE_ROOT_TESTS=1, so CI can never go green by skipping. Use in TEST bodies or
// SetUp (it returns from the enclosing void function).
#define RDD_REQUIRE_LOOP_FS(kind)                                                              \
    do {                                                                                       \
        if (const auto rdd_missing_reason_ = ::rdd::test::loop_prerequisites_missing(kind)) {  \
            if (::rdd::test::root_tests_required()) {                                          \
                GTEST_FAIL() << "RDD_REQUIRE_ROOT_TESTS is set but " << *rdd_missing_reason_;  \
            } else {                                                                           \
                GTEST_SKIP() << *rdd_missing_reason_                                           \
                             << " (set RDD_REQUIRE_ROOT_TESTS=1 to fail instead)";             \
            }                                                                                  \
        }                                                                                      \
    } while (false)

// ---- RAII pieces; LoopFilesystem composes them so a failure half way undoes what was done.

// mkdtemp(parent/reflinkdedup-test.XXXXXX); the destructor removes the tree without
// descending into mount points (a mount that could not be undone is left, with a warning).
class TempDir {
public:
    explicit TempDir(const std::filesystem::path& parent);
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;  // canonical
};

// `losetup --find --show image`. The destructor detaches the device only while it is still
// backed by this image (checked by backing inode), so it never detaches someone else's.
class LoopDevice {
public:
    explicit LoopDevice(const std::filesystem::path& image);
    ~LoopDevice();
    LoopDevice(const LoopDevice&) = delete;
    LoopDevice& operator=(const LoopDevice&) = delete;

    [[nodiscard]] const std::string& device() const noexcept { return device_; }
    // Idempotent; false (and a warning on stderr) when it could not detach.
    bool detach() noexcept;

private:
    std::string device_;
    dev_t image_dev_ = 0;
    ino_t image_ino_ = 0;
};

// mount(2) of source on target. unmount() (and the destructor) only unmounts while the
// topmost mount on target is still this one; EBUSY is retried, then MNT_DETACH is used.
class Mount {
public:
    Mount(std::string source, const std::filesystem::path& target, std::string fstype,
          const std::string& data = {});
    ~Mount();
    Mount(const Mount&) = delete;
    Mount& operator=(const Mount&) = delete;

    [[nodiscard]] const std::filesystem::path& target() const noexcept { return target_; }
    void remount(bool read_only, const std::string& data = {});
    // Idempotent; false (and a warning on stderr) when the mount could not be removed.
    bool unmount() noexcept;

private:
    std::string source_;
    std::filesystem::path target_;  // canonical
    std::string fstype_;
    bool mounted_ = true;
};

// ---- The fixture.

// Set fields by name (GCC 12 warns about designated initializers that skip members).
struct LoopFsOptions {
    std::uint64_t image_bytes = std::uint64_t{1} << 30;  // mkfs.xfs wants >= 300 MiB
    std::vector<std::string> mkfs_args;                   // appended to the mkfs defaults
    std::string mount_data;                               // e.g. "compress=zstd" on btrfs
    std::filesystem::path parent_dir;                     // empty: test_tmp_base()
};

class LoopFilesystem {
public:
    static constexpr std::uint64_t kDefaultImageBytes = std::uint64_t{1} << 30;

    // Throws (SysError / ProcessError) if any step fails, after undoing the earlier ones.
    explicit LoopFilesystem(FsKind kind, std::uint64_t image_bytes = kDefaultImageBytes);
    LoopFilesystem(FsKind kind, const LoopFsOptions& options);
    LoopFilesystem(const LoopFilesystem&) = delete;
    LoopFilesystem& operator=(const LoopFilesystem&) = delete;
    ~LoopFilesystem() = default;  // unmount, detach, remove temp dir: member order below

    [[nodiscard]] FsKind kind() const noexcept { return kind_; }
    [[nodiscard]] const std::filesystem::path& mount_point() const noexcept { return mount_.target(); }
    [[nodiscard]] const std::string& device() const noexcept { return loop_.device(); }
    [[nodiscard]] const std::filesystem::path& image() const noexcept { return image_; }
    [[nodiscard]] const std::filesystem::path& temp_dir() const noexcept { return dir_.path(); }
    // mount_point() / relative
    [[nodiscard]] std::filesystem::path path(const std::filesystem::path& relative) const;

    // syncfs(2), plus BTRFS_IOC_SYNC on btrfs.
    void sync() const;
    // f_bfree * f_frsize after sync(); on XFS it also waits for deferred inode inactivation
    // (XFS_IOC_FREE_EOFBLOCKS, which trims post-EOF preallocation). Repeated until two
    // readings agree. See the .cpp for what was measured.
    [[nodiscard]] std::uint64_t free_bytes() const;
    void remount_ro();
    void remount_rw();

private:
    FsKind kind_;
    TempDir dir_;
    std::filesystem::path image_;  // created and mkfs'ed inside dir_
    LoopDevice loop_;
    Mount mount_;
};

// ---- Inspection, for tests that check nothing was left behind.

struct MountEntry {
    std::string mount_point;  // unescaped
    std::string fstype;
    std::string source;
};
// /proc/self/mountinfo in order (later entries are mounted on top of earlier ones).
[[nodiscard]] std::vector<MountEntry> read_mountinfo();

struct LoopEntry {
    std::string device;        // /dev/loopN
    std::string backing_file;  // from sysfs, without a " (deleted)" suffix
};
// Every attached loop device.
[[nodiscard]] std::vector<LoopEntry> list_loop_devices();

}  // namespace rdd::test
