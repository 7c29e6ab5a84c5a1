#include "reflinkdedup/lock/writer_scan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <memory>
#include <optional>
#include <set>

#include "reflinkdedup/lock/proc_parse.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd::lock {

namespace {

struct DirCloser {
    void operator()(DIR* d) const noexcept { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

// opendir on a dirfd-relative name; nullptr with errno set on failure.
DirPtr open_dir_at(int dirfd, const char* name) {
    const int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
        const int saved = errno;
        ::close(fd);
        errno = saved;
    }
    return DirPtr(d);
}

// Whole (small) procfs file; nullopt with errno set on failure.
std::optional<std::string> read_at(int dirfd, const std::string& name) {
    const UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::nullopt;
    std::string out;
    char buf[16384];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return std::nullopt;
        }
        if (n == 0) return out;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

template <typename T>
std::optional<T> parse_decimal(std::string_view s) {
    T v{};
    const auto* end = s.data() + s.size();
    const auto [p, ec] = std::from_chars(s.data(), end, v);
    if (s.empty() || ec != std::errc{} || p != end) return std::nullopt;
    return v;
}

bool vanished(int err) { return err == ENOENT || err == ESRCH; }

// Scans one process; errors other than "it went away" land in `problem`.
class ProcessScan {
public:
    ProcessScan(pid_t pid, int pid_dir, const std::set<FileKey>& files, const std::set<ino_t>& inodes,
                WriterScanResult& result)
        : pid_(pid), dir_(pid_dir), files_(files), inodes_(inodes), result_(result) {}

    void run() {
        scan_fds();
        scan_maps();
        if (problem_ != 0) result_.inaccessible.push_back({pid_, problem_});
    }

private:
    void note_error(int err) {
        if (!vanished(err) && problem_ == 0) problem_ = err;
    }

    const std::string& comm() {
        if (!comm_) {
            auto text = read_at(dir_, "comm");
            comm_ = text ? std::move(*text) : std::string("?");
            if (!comm_->empty() && comm_->back() == '\n') comm_->pop_back();
        }
        return *comm_;
    }

    void scan_fds() {
        const DirPtr fds = open_dir_at(dir_, "fd");
        if (!fds) return note_error(errno);
        const int fds_fd = ::dirfd(fds.get());
        for (;;) {
            errno = 0;
            const dirent* ent = ::readdir(fds.get());
            if (ent == nullptr) {
                if (errno != 0) note_error(errno);
                return;
            }
            const auto fd = parse_decimal<int>(ent->d_name);
            if (!fd) continue;
            struct stat st {};
            if (::fstatat(fds_fd, ent->d_name, &st, 0) != 0) {  // follows the magic link
                note_error(errno);
                continue;
            }
            if (!S_ISREG(st.st_mode) || !files_.contains(file_key(st))) continue;
            const auto info = read_at(dir_, "fdinfo/" + std::string(ent->d_name));
            if (!info) {
                note_error(errno);
                continue;
            }
            const auto flags = parse_fdinfo_flags(*info);
            if (!flags || !opened_for_write(*flags)) continue;
            Writer w;
            w.pid = pid_;
            w.comm = comm();
            w.access = WriteAccess::OpenFd;
            w.fd = *fd;
            w.open_flags = *flags;
            result_.writers[file_key(st)].push_back(std::move(w));
        }
    }

    void scan_maps() {
        const auto text = read_at(dir_, "maps");
        if (!text) return note_error(errno);
        for (const MapsEntry& e : parse_maps(*text)) {
            // The inode number in maps is right (only its device field is not), so it is a
            // safe prefilter before the stat that decides.
            if (!writes_to_file(e) || !inodes_.contains(static_cast<ino_t>(e.inode))) continue;
            const std::string name = "map_files/" + map_files_name(e);
            struct stat st {};
            if (::fstatat(dir_, name.c_str(), &st, 0) != 0) {
                note_error(errno);
                continue;
            }
            if (!files_.contains(file_key(st))) continue;
            Writer w;
            w.pid = pid_;
            w.comm = comm();
            w.access = WriteAccess::SharedMapping;
            w.mapping = map_files_name(e);
            result_.writers[file_key(st)].push_back(std::move(w));
        }
    }

    pid_t pid_;
    int dir_;
    const std::set<FileKey>& files_;
    const std::set<ino_t>& inodes_;
    WriterScanResult& result_;
    std::optional<std::string> comm_;
    int problem_ = 0;
};

}  // namespace

std::string describe(const Writer& writer) {
    std::string s = "pid " + std::to_string(writer.pid) + " (" + writer.comm + ")";
    if (writer.access == WriteAccess::OpenFd) {
        return s + " has it open for writing (fd " + std::to_string(writer.fd) + ")";
    }
    return s + " has it mapped shared and writable (" + writer.mapping + ")";
}

WriterScanResult scan_writers(std::span<const FileKey> files, const std::filesystem::path& proc) {
    WriterScanResult result;
    if (files.empty()) return result;
    const std::set<FileKey> keys(files.begin(), files.end());
    std::set<ino_t> inodes;
    for (const auto& k : keys) inodes.insert(k.ino);

    const DirPtr root = open_dir_at(AT_FDCWD, proc.c_str());
    if (!root) throw_errno("open", proc.string());
    const int root_fd = ::dirfd(root.get());
    for (;;) {
        errno = 0;
        const dirent* ent = ::readdir(root.get());
        if (ent == nullptr) {
            if (errno != 0) throw_errno("readdir", proc.string());
            break;
        }
        const auto pid = parse_decimal<pid_t>(ent->d_name);
        if (!pid) continue;
        const UniqueFd pid_dir(::openat(root_fd, ent->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!pid_dir) {
            if (!vanished(errno)) result.inaccessible.push_back({*pid, errno});
            continue;
        }
        ++result.processes;
        ProcessScan(*pid, pid_dir.get(), keys, inodes, result).run();
    }
    return result;
}

}  // namespace rdd::lock
