#pragma once
// Helpers shared by race_test.cpp and crash_test.cpp: the scale knob and seed, byte-exact file
// I/O for the tests' own models, whole-volume checks (content, flags, metadata) and the catalog
// integrity check, and a child process that can be SIGKILLed.
#include <fcntl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reflinkdedup/catalog/sqlite.hpp"
#include "support/file_checks.hpp"

namespace rdd::test::reliability {

namespace fs = std::filesystem;

// RDD_RELIABILITY_SCALE (default 1, at least 1): multiplies kill points and race rounds.
inline int scale() {
    const char* s = std::getenv("RDD_RELIABILITY_SCALE");
    const int v = s != nullptr ? std::atoi(s) : 1;
    return v < 1 ? 1 : v;
}

// RDD_RELIABILITY_SEED fixes the RNG seed (to replay a failure); otherwise a fresh one. Printed.
inline std::uint64_t seed(const char* what) {
    const char* s = std::getenv("RDD_RELIABILITY_SEED");
    const std::uint64_t v = s != nullptr && *s != '\0' ? std::strtoull(s, nullptr, 0) : std::random_device{}();
    std::cout << "[ seed     ] " << what << ": RDD_RELIABILITY_SEED=" << v << "\n";
    return v;
}

inline std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        const std::uint64_t w = rng();
        for (std::size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<char>((w >> (8 * j)) & 0xff);
    }
    return out;
}

inline std::string read_all(const fs::path& p) {
    std::string out;
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        ADD_FAILURE() << "open " << p << ": " << std::strerror(errno);
        return out;
    }
    char buf[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

// Writes `data` to a new file (never a reflink: plain write(2)); throws on error.
inline void write_new(const fs::path& p, const std::string& data) {
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("create " + p.string() + ": " + std::strerror(errno));
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n <= 0) {
            ::close(fd);
            throw std::runtime_error("write " + p.string() + ": " + std::strerror(errno));
        }
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
}

// Every regular file below root, by path relative to root (the walk does not follow symlinks).
inline std::vector<fs::path> regular_files(const fs::path& root) {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        if (e.is_regular_file() && !e.is_symlink()) out.push_back(fs::relative(e.path(), root));
    }
    return out;
}

// No file or directory below root (root included) is left immutable or append-only.
inline void expect_nothing_frozen(const fs::path& root, const std::string& when) {
    auto check = [&](const fs::path& p) {
        const auto flags = snapshot_metadata(p).inode_flags;
        if (flags) {
            EXPECT_EQ(*flags & (FS_IMMUTABLE_FL | FS_APPEND_FL), 0u) << p << " left frozen " << when;
        }
    };
    check(root);
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        if (!e.is_symlink()) check(e.path());
    }
}

// PRAGMA integrity_check (the full one, not quick_check) through a read-only connection.
inline void expect_catalog_intact(const fs::path& db, const std::string& when) {
    ASSERT_TRUE(fs::exists(db)) << db << " " << when;
    const catalog::Connection conn(db.string(), catalog::Connection::Mode::read_only);
    EXPECT_EQ(conn.query_text("PRAGMA integrity_check"), "ok") << db << " " << when;
}

// After a complete run with no writer about: the catalog holds exactly the volume's inodes
// (hashed, with their size and mtime), no block rows of files it forgot, no freeze journal left.
inline void expect_catalog_matches(const fs::path& db, const fs::path& root, const std::string& when) {
    expect_catalog_intact(db, when);
    std::map<std::uint64_t, std::pair<std::uint64_t, std::int64_t>> on_disk;  // ino -> size, mtime
    for (const fs::path& rel : regular_files(root)) {
        struct stat st {};
        ASSERT_EQ(::lstat((root / rel).c_str(), &st), 0) << rel;
        on_disk[st.st_ino] = {static_cast<std::uint64_t>(st.st_size),
                              std::int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
    }
    const catalog::Connection conn(db.string(), catalog::Connection::Mode::read_only);
    std::map<std::uint64_t, std::pair<std::uint64_t, std::int64_t>> catalogued;
    auto st = conn.prepare("SELECT ino, size, mtime_ns, state FROM file");
    while (st.step()) {
        const auto ino = static_cast<std::uint64_t>(st.column_int(0));
        EXPECT_EQ(st.column_int(3), 1) << "inode " << ino << " not hashed " << when;
        catalogued[ino] = {static_cast<std::uint64_t>(st.column_int(1)), st.column_int(2)};
    }
    EXPECT_EQ(catalogued, on_disk) << "catalog rows (ino -> size, mtime) vs the volume " << when;
    EXPECT_EQ(conn.query_int("SELECT count(*) FROM block WHERE file_id NOT IN (SELECT id FROM file)"), 0) << when;
    EXPECT_EQ(conn.query_int("SELECT count(*) FROM zero_run WHERE file_id NOT IN (SELECT id FROM file)"), 0) << when;
    EXPECT_EQ(conn.query_int("SELECT count(*) FROM freeze_journal"), 0) << when;
}

// A child with stdout/stderr to a log file, to be SIGKILLed at a chosen moment.
class Child {
public:
    Child(std::vector<std::string> argv, const fs::path& log) {
        std::vector<char*> cargv;
        for (auto& a : argv) cargv.push_back(a.data());
        cargv.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ == 0) {
            const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            ::dup2(out, 1);
            ::dup2(out, 2);
            ::execv(cargv[0], cargv.data());
            ::_exit(127);
        }
        if (pid_ < 0) throw std::runtime_error("fork failed");
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        if (!reaped_) {
            ::kill(pid_, SIGKILL);
            (void)wait();
        }
    }
    // True while it has not exited (reaps it when it has).
    bool running() {
        if (reaped_) return false;
        if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
        return !reaped_;
    }
    // SIGKILL; true when it was still running and died of the signal.
    bool kill() {
        if (!running()) return false;
        ::kill(pid_, SIGKILL);
        return WIFSIGNALED(wait()) && WTERMSIG(status_) == SIGKILL;
    }
    int wait() {
        if (!reaped_) {
            while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
            }
            reaped_ = true;
        }
        return status_;
    }
    // Exit code, or -1 when a signal ended it.
    int exit_code() {
        const int st = wait();
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }

private:
    pid_t pid_ = -1;
    int status_ = 0;
    bool reaped_ = false;
};

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace rdd::test::reliability
