#pragma once
// Shared by catalog_fault_test and fs_fault_test: what a fault may never change (content and
// metadata of user files), what a failing run must look like (a documented exit code, no
// signal, one "reflinkdedup: ..." line per message, no sanitizer report), and small helpers
// to watch a background run.
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cli_runner.hpp"
#include "support/file_checks.hpp"
#include "support/process.hpp"

namespace rdd::test::faults {

namespace fs = std::filesystem;

// Content and metadata of every regular file below root, and every name there.
struct TreeState {
    std::map<std::string, std::pair<std::string, MetadataSnapshot>> files;
    std::set<std::string> names;
};

inline TreeState tree_state(const fs::path& root) {
    TreeState t;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        const std::string rel = fs::relative(e.path(), root).string();
        t.names.insert(rel);
        if (e.is_regular_file()) t.files[rel] = {sha256_file(e.path()), snapshot_metadata(e.path())};
    }
    return t;
}

// Same names, same bytes, same metadata. `ignore_ctime`: --lock=immutable sets and clears a
// flag, which moves ctime (documented); everything else must still match.
inline void expect_same_tree(const TreeState& before, const fs::path& root, bool ignore_ctime = false) {
    const TreeState now = tree_state(root);
    EXPECT_EQ(now.names, before.names) << "files appeared or vanished under " << root;
    for (const auto& [rel, state] : before.files) {
        const auto it = now.files.find(rel);
        if (it == now.files.end()) continue;  // reported above
        EXPECT_EQ(it->second.first, state.first) << rel << ": content changed";
        MetadataSnapshot was = state.second;
        if (ignore_ctime) was.ctime = it->second.second.ctime;
        EXPECT_EQ(it->second.second, was) << rel << ": " << describe_differences(was, it->second.second);
    }
}

// The codes README and --help document.
inline bool documented_exit(int code) { return code >= 0 && code <= 5; }

inline bool has_sanitizer_report(const std::string& err) {
    return err.find("AddressSanitizer") != std::string::npos || err.find("LeakSanitizer") != std::string::npos ||
           err.find("runtime error:") != std::string::npos;
}

inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
}

// Exited (no signal) with `code`, no sanitizer output, and stderr is exactly one
// "reflinkdedup: ..." line that contains `what`.
inline ::testing::AssertionResult failed_cleanly(const ProcessResult& r, int code, const std::string& what) {
    const auto fail = [&](const std::string& why) {
        return ::testing::AssertionFailure() << why << "\nexit=" << r.exit_code << " signal=" << r.term_signal
                                             << "\nstdout: " << r.out << "\nstderr: " << r.err;
    };
    if (r.term_signal != 0) return fail("killed by a signal");
    if (has_sanitizer_report(r.err)) return fail("sanitizer report");
    if (r.exit_code != code) return fail("exit code is not " + std::to_string(code));
    const auto lines = lines_of(r.err);
    if (lines.size() != 1 || r.err.back() != '\n') return fail("stderr is not exactly one line");
    if (lines[0].rfind("reflinkdedup: ", 0) != 0) return fail("stderr line lacks the program prefix");
    if (lines[0].find(what) == std::string::npos) return fail("stderr does not say '" + what + "'");
    return ::testing::AssertionSuccess();
}
inline ::testing::AssertionResult failed_cleanly(const CliRun& r, int code, const std::string& what) {
    return failed_cleanly(r.process, code, what);
}

// A run that may end in any documented way (the fault raced with it): no signal, no
// sanitizer report, every stderr line is one of ours.
inline ::testing::AssertionResult ended_cleanly(const ProcessResult& r) {
    const auto fail = [&](const std::string& why) {
        return ::testing::AssertionFailure() << why << "\nexit=" << r.exit_code << " signal=" << r.term_signal
                                             << "\nstdout: " << r.out << "\nstderr: " << r.err;
    };
    if (r.term_signal != 0) return fail("killed by a signal");
    if (has_sanitizer_report(r.err)) return fail("sanitizer report");
    if (!documented_exit(r.exit_code)) return fail("undocumented exit code");
    for (const auto& l : lines_of(r.err)) {
        if (l.rfind("reflinkdedup: ", 0) != 0) return fail("stderr line without the program prefix: " + l);
    }
    return ::testing::AssertionSuccess();
}

// FS_IOC_GETFLAGS, or 0 when the file cannot be opened.
inline unsigned inode_flags(const fs::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0;
    int flags = 0;
    if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) flags = 0;
    ::close(fd);
    return static_cast<unsigned>(flags);
}

// True once pred() holds; false when `alive()` turns false first or `limit` passes.
inline bool poll_until(const std::function<bool()>& pred, const std::function<bool()>& alive,
                       std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        if (!alive()) return pred();
        std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    return false;
}

// Does process `pid` hold a file lease (/proc/locks: "N: LEASE ACTIVE READ PID ...")? The
// default --lock=lease takes one on each file right before sharing it.
inline bool holds_lease(pid_t pid) {
    std::ifstream in("/proc/locks");
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string n, kind, state, mode, who;
        f >> n >> kind >> state >> mode >> who;
        if (kind == "LEASE" && who == std::to_string(pid)) return true;
    }
    return false;
}

// Holds the first read of any of `files` (by anyone) until release(): fanotify permission
// events. dedup-vol reads a file only inside its job, after locking it, so a test that waits
// here knows the run holds that job's lease or flags, and puts its fault in place before the
// read goes on. Nothing else may read the files meanwhile (it would wait too).
class ReadGate {
public:
    explicit ReadGate(const std::vector<fs::path>& files) {
        fd_ = ::fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_LARGEFILE);
        if (fd_ < 0) throw std::runtime_error("fanotify_init failed");
        for (const auto& f : files) {
            if (::fanotify_mark(fd_, FAN_MARK_ADD, FAN_ACCESS_PERM, AT_FDCWD, f.c_str()) != 0) {
                throw std::runtime_error("fanotify_mark failed: " + f.string());
            }
        }
    }
    ReadGate(const ReadGate&) = delete;
    ReadGate& operator=(const ReadGate&) = delete;
    ~ReadGate() { release(); }

    // True once a read is being held; false if `alive()` turned false or `limit` passed first.
    bool wait(const std::function<bool()>& alive, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (fd_ >= 0 && pending_.empty() && std::chrono::steady_clock::now() < end) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) > 0) take_events();
            else if (!alive()) break;
        }
        return !pending_.empty();
    }
    // Lets every held read go on and stops holding any (closing the group allows the rest).
    void release() noexcept {
        if (fd_ < 0) return;
        for (const int ev : pending_) {
            const fanotify_response r{ev, FAN_ALLOW};
            (void)::write(fd_, &r, sizeof r);
            ::close(ev);
        }
        pending_.clear();
        ::close(fd_);
        fd_ = -1;
    }

private:
    void take_events() {
        alignas(fanotify_event_metadata) char buf[4096];
        const ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n <= 0) return;
        auto len = static_cast<std::size_t>(n);
        for (auto* m = reinterpret_cast<fanotify_event_metadata*>(buf); FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
            if (m->fd >= 0) pending_.push_back(m->fd);
        }
    }

    int fd_ = -1;
    std::vector<int> pending_;  // event fds awaiting our answer
};

// chattr -i on every file below root that has it, so a failed test can still clean up.
struct ClearImmutableOnExit {
    std::vector<fs::path> roots;
    static void clear(const fs::path& p) noexcept {
        try {
            if ((inode_flags(p) & FS_IMMUTABLE_FL) != 0) set_immutable(p, false);
        } catch (const std::exception&) {
        }
    }
    ~ClearImmutableOnExit() {
        for (const auto& root : roots) {
            std::error_code ec;
            if (!fs::exists(root, ec)) continue;
            if (fs::is_regular_file(root, ec)) {
                clear(root);
                continue;
            }
            for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
                 it.increment(ec)) {
                if (it->is_regular_file(ec)) clear(it->path());
            }
        }
    }
};

}  // namespace rdd::test::faults
