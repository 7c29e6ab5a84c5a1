#pragma once
// Who has a file open for writing: one pass over /proc/*/fd and /proc/*/maps for a set of
// candidate files. Files are matched by stat() through /proc/PID/fd/N and
// /proc/PID/map_files/RANGE, never by the device field of the maps text (on btrfs that is the
// superblock's device, not the subvolume's st_dev). Cannot see fds in flight over
// SCM_RIGHTS, io_uring fixed files or kernel-internal writers (a read lease can).
#include <sys/stat.h>
#include <sys/types.h>

#include <compare>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace rdd::lock {

// A file as stat() names it; only meaningful while the file is open (inode numbers are reused).
struct FileKey {
    dev_t dev = 0;
    ino_t ino = 0;
    friend auto operator<=>(const FileKey&, const FileKey&) = default;
};

[[nodiscard]] inline FileKey file_key(const struct stat& st) noexcept { return {st.st_dev, st.st_ino}; }

enum class WriteAccess {
    OpenFd,         // an fd opened O_WRONLY or O_RDWR
    SharedMapping,  // a MAP_SHARED + PROT_WRITE mapping (its fd may long be closed)
};

struct Writer {
    pid_t pid = 0;
    std::string comm;           // /proc/PID/comm, "?" if the process went away meanwhile
    WriteAccess access = WriteAccess::OpenFd;
    int fd = -1;                // OpenFd: the fd number in that process
    std::uint32_t open_flags = 0;  // OpenFd: fdinfo flags
    std::string mapping;        // SharedMapping: "start-end"
    friend bool operator==(const Writer&, const Writer&) = default;
};

// "pid 4242 (vim) has it open for writing (fd 3)" / "... has it mapped shared-writable (7f..-7f..)"
[[nodiscard]] std::string describe(const Writer& writer);

struct InaccessibleProcess {
    pid_t pid = 0;
    int error = 0;  // EACCES / EPERM: the scan could not look at this process, it may write
};

struct WriterScanResult {
    std::map<FileKey, std::vector<Writer>> writers;  // only files that have writers
    std::vector<InaccessibleProcess> inaccessible;
    std::size_t processes = 0;                       // processes looked at
};

// One pass over every process. Processes (and fds) that vanish mid-scan are skipped silently.
// `proc` is the procfs root (a fake tree in tests). Throws SysError only when `proc` itself
// cannot be read.
[[nodiscard]] WriterScanResult scan_writers(std::span<const FileKey> files,
                                            const std::filesystem::path& proc = "/proc");

}  // namespace rdd::lock
