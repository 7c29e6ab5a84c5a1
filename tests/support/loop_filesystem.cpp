#include "support/loop_filesystem.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>
#include <sstream>
#include <thread>

#include "reflinkdedup/util/sys_error.hpp"
#include "reflinkdedup/util/unique_fd.hpp"
#include "support/process.hpp"

namespace rdd::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

void warn(const std::string& message) noexcept {
    try {
        std::cerr << "[rdd-test] warning: " << message << std::endl;
    } catch (...) {
    }
}

bool kernel_has_fs(std::string_view name) {
    std::ifstream in("/proc/filesystems");
    std::string line;
    while (std::getline(in, line)) {
        // "nodev\tproc" or "\tbtrfs"
        const auto tab = line.rfind('\t');
        if (line.substr(tab == std::string::npos ? 0 : tab + 1) == name) return true;
    }
    return false;
}

// modprobe at most once per kind and process: a missing module will not appear on retry.
bool kernel_has_fs_after_modprobe(FsKind kind) {
    static std::array<std::once_flag, 2> tried;
    const std::string name(to_string(kind));
    if (kernel_has_fs(name)) return true;
    std::call_once(tried[static_cast<std::size_t>(kind)], [&] {
        if (find_program("modprobe")) {
            try {
                (void)run_process({"modprobe", name});
            } catch (const std::exception& e) {
                warn(std::string("modprobe failed: ") + e.what());
            }
        }
    });
    return kernel_has_fs(name);
}

// XFS_IOC_FREE_EOFBLOCKS from xfsprogs' <xfs/xfs_fs.h>, which does not compile standalone
// in C++; the layout is kernel ABI.
struct XfsEofBlocks {
    std::uint32_t eof_version;
    std::uint32_t eof_flags;
    std::uint32_t eof_uid;
    std::uint32_t eof_gid;
    std::uint32_t eof_prid;
    std::uint32_t pad32;
    std::uint64_t eof_min_file_size;
    std::uint64_t pad64[12];
};
static_assert(sizeof(XfsEofBlocks) == 128);
constexpr std::uint32_t kXfsEofBlocksVersion = 1;
constexpr std::uint32_t kXfsEofFlagsSync = 1;
constexpr unsigned long kXfsIocFreeEofBlocks = _IOR('X', 58, XfsEofBlocks);

// Waits for XFS's deferred inode inactivation, where unlinked files' blocks get freed.
void wait_for_xfs_inodegc(const fs::path& mount_point) {
    UniqueFd fd(::open(mount_point.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open", mount_point);
    XfsEofBlocks eof{};
    eof.eof_version = kXfsEofBlocksVersion;
    eof.eof_flags = kXfsEofFlagsSync;
    if (::ioctl(fd.get(), kXfsIocFreeEofBlocks, &eof) != 0) throw_errno("XFS_IOC_FREE_EOFBLOCKS", mount_point);
}

std::string mkfs_program(FsKind kind) { return kind == FsKind::Btrfs ? "mkfs.btrfs" : "mkfs.xfs"; }

// Deletes a tree without leaving its filesystem: a directory on another st_dev is a mount
// point we failed to undo, and must not be emptied. Returns what could not be removed.
void remove_tree(const fs::path& path, dev_t root_dev, std::string& problems) {
    const auto note = [&](const std::string& what) { problems += " " + path.string() + ": " + what + ";"; };
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (const int err = errno; err != ENOENT) note(errno_text(err));
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (st.st_dev != root_dev) return note("still a mount point, left alone");
        std::error_code ec;
        std::vector<fs::path> children;
        for (const auto& entry : fs::directory_iterator(path, ec)) children.push_back(entry.path());
        if (ec) note(ec.message());
        for (const auto& child : children) remove_tree(child, root_dev, problems);
        if (::rmdir(path.c_str()) != 0) note(errno_text(errno));
    } else if (::unlink(path.c_str()) != 0) {
        note(errno_text(errno));
    }
}

// Sparse image plus mkfs, run on the plain file so a failing mkfs never holds a loop device.
fs::path make_image(const fs::path& dir, FsKind kind, const LoopFsOptions& options) {
    fs::path image = dir / "image";
    if (options.image_bytes > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max())) {
        throw std::invalid_argument("LoopFilesystem: image size too large");
    }
    UniqueFd fd(::open(image.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) throw_errno("create image", image);
    if (::ftruncate(fd.get(), static_cast<off_t>(options.image_bytes)) != 0) throw_errno("ftruncate", image);
    fd.reset();

    std::vector<std::string> argv{mkfs_program(kind), "-f", "-q"};
    if (kind == FsKind::Xfs) argv.insert(argv.end(), {"-m", "reflink=1"});
    argv.insert(argv.end(), options.mkfs_args.begin(), options.mkfs_args.end());
    argv.push_back(image.string());
    (void)run_checked(argv, ProcessOptions{{{"LC_ALL", "C"}}});
    return image;
}

fs::path make_dir(const fs::path& path) {
    if (::mkdir(path.c_str(), 0755) != 0) throw_errno("mkdir", path);
    return path;
}

std::string read_first_line(const fs::path& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

std::string unescape_mountinfo(std::string_view field) {
    std::string out;
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size()) {
            const auto oct = field.substr(i + 1, 3);
            if (oct.find_first_not_of("01234567") == std::string_view::npos) {
                out += static_cast<char>(((oct[0] - '0') << 6) | ((oct[1] - '0') << 3) | (oct[2] - '0'));
                i += 3;
                continue;
            }
        }
        out += field[i];
    }
    return out;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, FsKind kind) { return os << to_string(kind); }

fs::path test_tmp_base() {
    const char* env = std::getenv("RDD_TEST_TMPDIR");
    return env != nullptr && *env != '\0' ? fs::path(env) : fs::path("/tmp");
}

bool root_tests_required() {
    const char* env = std::getenv("RDD_REQUIRE_ROOT_TESTS");
    return env != nullptr && *env != '\0' && std::string_view(env) != "0";
}

std::optional<std::string> loop_prerequisites_missing(FsKind kind) {
    const std::string name(to_string(kind));
    if (::geteuid() != 0) {
        return "loop-mounted " + name + " tests need root (euid " + std::to_string(::geteuid()) + ")";
    }
    if (::access("/dev/loop-control", F_OK) != 0) return "/dev/loop-control is missing (no loop driver?)";
    if (!find_program("losetup")) return "losetup not found (util-linux)";
    if (!find_program(mkfs_program(kind))) {
        const char* package = kind == FsKind::Btrfs ? "btrfs-progs" : "xfsprogs";
        return mkfs_program(kind) + " not found (" + package + ")";
    }
    if (!kernel_has_fs_after_modprobe(kind)) {
        return "kernel has no " + name + " support (not in /proc/filesystems, modprobe did not help)";
    }
    return std::nullopt;
}

// ---- TempDir

TempDir::TempDir(const fs::path& parent) {
    std::string pattern = (parent / "reflinkdedup-test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw_errno("mkdtemp", pattern);
    path_ = fs::canonical(pattern);
}

TempDir::~TempDir() {
    if (path_.empty()) return;
    struct stat st {};
    if (::lstat(path_.c_str(), &st) != 0) return;
    std::string problems;
    remove_tree(path_, st.st_dev, problems);
    if (!problems.empty()) warn("could not fully remove " + path_.string() + ":" + problems);
}

// ---- LoopDevice

LoopDevice::LoopDevice(const fs::path& image) {
    struct stat st {};
    if (::stat(image.c_str(), &st) != 0) throw_errno("stat", image);
    image_dev_ = st.st_dev;
    image_ino_ = st.st_ino;
    std::string out = run_checked({"losetup", "--find", "--show", image.string()}).out;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (out.rfind("/dev/loop", 0) != 0) throw std::runtime_error("losetup --find --show printed '" + out + "'");
    device_ = out;
}

LoopDevice::~LoopDevice() { (void)detach(); }

bool LoopDevice::detach() noexcept {
    if (device_.empty()) return true;
    const fs::path sysfs_backing = fs::path("/sys/block") / fs::path(device_).filename() / "loop" / "backing_file";
    try {
        UniqueFd fd(::open(device_.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) throw SysError(errno, "open", device_);
        loop_info64 info{};
        if (::ioctl(fd.get(), LOOP_GET_STATUS64, &info) != 0) {
            if (errno == ENXIO) {  // already detached (by hand or autoclear)
                device_.clear();
                return true;
            }
            throw SysError(errno, "LOOP_GET_STATUS64", device_);
        }
        if (info.lo_inode != image_ino_ || info.lo_device != image_dev_) {
            warn(device_ + " no longer backed by our image; left alone");
            device_.clear();
            return true;
        }
        // Old kernels answer EBUSY while udev or blkid still hold the device; newer ones defer
        // the detach to the last close instead (autoclear), which we wait for below.
        int tries = 0;
        while (::ioctl(fd.get(), LOOP_CLR_FD, 0) != 0) {
            if (errno != EBUSY || ++tries == 20) throw SysError(errno, "LOOP_CLR_FD", device_);
            std::this_thread::sleep_for(100ms);
        }
        fd.reset();
        for (int i = 0; i < 100 && fs::exists(sysfs_backing); ++i) std::this_thread::sleep_for(20ms);
        if (fs::exists(sysfs_backing)) warn(device_ + " still attached 2 s after LOOP_CLR_FD (autoclear pending)");
        device_.clear();
        return true;
    } catch (const std::exception& e) {
        warn(std::string("could not detach loop device: ") + e.what());
        return false;
    }
}

// ---- Mount

Mount::Mount(std::string source, const fs::path& target, std::string fstype, const std::string& data)
    : source_(std::move(source)), target_(fs::canonical(target)), fstype_(std::move(fstype)) {
    const char* options = data.empty() ? nullptr : data.c_str();
    if (::mount(source_.c_str(), target_.c_str(), fstype_.c_str(), 0, options) != 0) {
        const int err = errno;
        const std::string what = "mount -t " + fstype_ + " " + source_ + (data.empty() ? "" : " -o " + data);
        throw SysError(err, what, target.string());
    }
}

Mount::~Mount() { (void)unmount(); }

void Mount::remount(bool read_only, const std::string& data) {
    const unsigned long flags = MS_REMOUNT | (read_only ? static_cast<unsigned long>(MS_RDONLY) : 0UL);
    if (::mount(source_.c_str(), target_.c_str(), nullptr, flags, data.empty() ? nullptr : data.c_str()) != 0) {
        throw_errno(read_only ? "remount ro" : "remount rw", target_);
    }
}

bool Mount::unmount() noexcept {
    if (!mounted_) return true;
    enum class State { Absent, Top, Covered };
    const auto state = [this] {
        State s = State::Absent;
        for (const auto& e : read_mountinfo()) {
            if (e.mount_point != target_.string()) continue;
            const bool ours = e.source == source_ && e.fstype == fstype_;
            if (ours) s = State::Top;
            else if (s == State::Top) s = State::Covered;
        }
        return s;
    };
    try {
        for (int attempt = 0; attempt < 10; ++attempt) {
            switch (state()) {
            case State::Absent: mounted_ = false; return true;
            case State::Covered:
                warn(target_.string() + ": another mount sits on top of ours; not unmounting");
                return false;
            case State::Top: break;
            }
            if (::umount2(target_.c_str(), UMOUNT_NOFOLLOW) == 0) {
                mounted_ = false;
                return true;
            }
            if (const int err = errno; err != EBUSY) {
                if (state() == State::Absent) {  // someone else unmounted it meanwhile
                    mounted_ = false;
                    return true;
                }
                warn("umount " + target_.string() + ": " + errno_text(err));
                break;
            }
            std::this_thread::sleep_for(100ms);
        }
        // Last resort: detach it from the tree now; the kernel finishes when the last user goes.
        if (state() == State::Top && ::umount2(target_.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
            warn(target_.string() + " was busy; unmounted lazily");
            mounted_ = false;
            return true;
        }
        warn("could not unmount " + target_.string());
    } catch (const std::exception& e) {
        warn("unmount " + target_.string() + ": " + e.what());
    }
    return false;
}

// ---- LoopFilesystem

LoopFilesystem::LoopFilesystem(FsKind kind, std::uint64_t image_bytes)
    : LoopFilesystem(kind, LoopFsOptions{image_bytes, {}, {}, {}}) {}

LoopFilesystem::LoopFilesystem(FsKind kind, const LoopFsOptions& options)
    : kind_(kind),
      dir_(options.parent_dir.empty() ? test_tmp_base() : options.parent_dir),
      image_(make_image(dir_.path(), kind, options)),
      loop_(image_),
      mount_(loop_.device(), make_dir(dir_.path() / "mnt"), std::string(to_string(kind)), options.mount_data) {}

fs::path LoopFilesystem::path(const fs::path& relative) const { return mount_point() / relative; }

void LoopFilesystem::sync() const {
    UniqueFd fd(::open(mount_point().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open", mount_point());
    if (::syncfs(fd.get()) != 0) throw_errno("syncfs", mount_point());
    // What `btrfs filesystem sync` does: flush delalloc and commit the transaction.
    if (kind_ == FsKind::Btrfs && ::ioctl(fd.get(), BTRFS_IOC_SYNC, nullptr) != 0) {
        throw_errno("BTRFS_IOC_SYNC", mount_point());
    }
}

// Measured on Linux 6.18 (btrfs-progs 6.2, xfsprogs 6.1): 64 MiB written and fsync'ed, then
// unlinked. statfs right after the unlink never showed the space freed on either fs.
// - btrfs frees extents when the transaction commits: one syncfs or one BTRFS_IOC_SYNC made
//   all 64 MiB show up at once (60/60 runs each, no delay needed).
// - XFS frees in deferred inode inactivation (inodegc). syncfs does not wait for it and
//   statfs only kicks it off: syncfs+statfs right after the unlink was stale 40/40 times, and
//   repeating syncfs+statfs until two readings agreed still returned the stale value in 10 of
//   55 runs. XFS_IOC_FREE_EOFBLOCKS with the SYNC flag waits for inodegc (40/40 and 200/200
//   correct); it also trims post-EOF preallocation, which takes that noise out of the reading.
// The readings are still repeated until two agree: a cheap guard for work we did not foresee.
std::uint64_t LoopFilesystem::free_bytes() const {
    const auto read = [this] {
        sync();
        if (kind_ == FsKind::Xfs) wait_for_xfs_inodegc(mount_point());
        struct statfs st {};
        if (::statfs(mount_point().c_str(), &st) != 0) throw_errno("statfs", mount_point());
        return static_cast<std::uint64_t>(st.f_bfree) * static_cast<std::uint64_t>(st.f_frsize);
    };
    std::uint64_t previous = read();
    for (int i = 0; i < 10; ++i) {
        const std::uint64_t current = read();
        if (current == previous) return current;
        previous = current;
        std::this_thread::sleep_for(50ms);
    }
    return previous;
}

void LoopFilesystem::remount_ro() { mount_.remount(true); }
void LoopFilesystem::remount_rw() { mount_.remount(false); }

// ---- Inspection

std::vector<MountEntry> read_mountinfo() {
    std::ifstream in("/proc/self/mountinfo");
    if (!in) throw SysError(errno, "open", "/proc/self/mountinfo");
    std::vector<MountEntry> entries;
    std::string line;
    while (std::getline(in, line)) {
        // id parent major:minor root mount_point options [optional...] - fstype source super_options
        std::istringstream fields(line);
        std::vector<std::string> f;
        for (std::string w; fields >> w;) f.push_back(w);
        std::size_t dash = 6;
        while (dash < f.size() && f[dash] != "-") ++dash;
        if (f.size() < 5 || dash + 2 >= f.size()) continue;
        entries.push_back(
            {unescape_mountinfo(f[4]), unescape_mountinfo(f[dash + 1]), unescape_mountinfo(f[dash + 2])});
    }
    return entries;
}

std::vector<LoopEntry> list_loop_devices() {
    std::vector<LoopEntry> loops;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/sys/block", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("loop", 0) != 0 || name.size() == 4 ||
            name.find_first_not_of("0123456789", 4) != std::string::npos) {
            continue;
        }
        const fs::path backing = entry.path() / "loop" / "backing_file";
        if (!fs::exists(backing, ec)) continue;  // not attached
        std::string file = read_first_line(backing);
        constexpr std::string_view kDeleted = " (deleted)";
        if (file.ends_with(kDeleted)) file.resize(file.size() - kDeleted.size());
        loops.push_back({"/dev/" + name, file});
    }
    return loops;
}

}  // namespace rdd::test
