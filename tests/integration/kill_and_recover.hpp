#pragma once
// Crash rounds for --lock=immutable: run a command, SIGKILL it at a varying moment after one of
// `files` was frozen, run `reflinkdedup recover`, and check that no file's flags, mtime, mode or
// size changed. Used by the dedup-files and dedup-vol crash tests.
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/file_checks.hpp"
#include "support/process.hpp"

namespace rdd::test {

struct KillStats {
    int killed = 0;    // rounds whose run was killed while still running
    int repaired = 0;  // rounds after which recover restored something
};

inline bool any_frozen(const std::vector<std::filesystem::path>& files) {
    for (const auto& f : files) {
        const auto flags = snapshot_metadata(f).inode_flags;
        if (flags && (*flags & FS_IMMUTABLE_FL) != 0) return true;
    }
    return false;
}

// `before_round(round)` may refresh the files (so each round has work to do). `recover_extra`
// goes on recover's command line (e.g. --db CATALOG, where dedup-vol journals).
inline KillStats kill_and_recover(std::vector<std::string> argv, const std::vector<std::filesystem::path>& files,
                                  const std::string& state_dir, int rounds,
                                  const std::function<void(int)>& before_round,
                                  const std::vector<std::string>& recover_extra = {}) {
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    KillStats stats;
    for (int round = 0; round < rounds; ++round) {
        before_round(round);
        std::map<std::string, MetadataSnapshot> before;
        for (const auto& f : files) before[f.string()] = snapshot_metadata(f);
        const pid_t pid = ::fork();
        if (pid == 0) {
            const int null = ::open("/dev/null", O_WRONLY);
            ::dup2(null, 1);
            ::dup2(null, 2);
            ::execv(cargv[0], cargv.data());
            ::_exit(127);
        }
        // Kill at a varying moment after the first file is frozen (or not at all if it ended).
        int status = 0;
        bool exited = false;
        for (int poll = 0; poll < 10000 && !exited; ++poll) {
            if (::waitpid(pid, &status, WNOHANG) == pid) exited = true;
            else if (any_frozen(files)) break;
            else ::usleep(500);
        }
        if (!exited) {
            ::usleep(static_cast<useconds_t>((round * 7919) % 20000));
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            if (WIFSIGNALED(status)) ++stats.killed;
        }
        std::vector<std::string> recover{RDD_BINARY, "recover", "--state-dir", state_dir};
        recover.insert(recover.end(), recover_extra.begin(), recover_extra.end());
        const ProcessResult rec = run_process(recover);
        EXPECT_EQ(rec.exit_code, 0) << rec.out << rec.err;
        if (rec.out.find("restored") != std::string::npos) ++stats.repaired;
        for (const auto& f : files) {
            const MetadataSnapshot now = snapshot_metadata(f);
            const MetadataSnapshot& was = before[f.string()];
            EXPECT_EQ(now.inode_flags, was.inode_flags) << f << " round " << round;
            EXPECT_EQ(now.mtime, was.mtime) << f;
            EXPECT_EQ(now.mode, was.mode) << f;
            EXPECT_EQ(now.size, was.size) << f;
        }
    }
    return stats;
}

}  // namespace rdd::test
