#pragma once
// The real binary started in the background, with stdout and stderr going to files the test
// owns (so it can also name stderr in JOURNAL_STREAM), for tests that signal it mid-run or
// need to know its stderr's inode.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "support/process.hpp"

extern char** environ;

namespace rdd::test {

class Spawned {
public:
    // argv[0] is run as is; out/err are created (truncated) before the start. `env` entries
    // "NAME=value" are added to the environment.
    Spawned(const std::vector<std::string>& argv, std::filesystem::path out, std::filesystem::path err,
            const std::vector<std::string>& env = {})
        : out_(std::move(out)), err_(std::move(err)) {
        std::ofstream(out_).flush();
        std::ofstream(err_).flush();
        std::vector<std::string> envs;
        for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
        envs.insert(envs.end(), env.begin(), env.end());
        std::vector<char*> cargv, cenv;
        for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
        cargv.push_back(nullptr);
        for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
        cenv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        ::posix_spawn_file_actions_init(&fa);
        ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        // O_APPEND keeps the files we created (and their inodes).
        ::posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_APPEND, 0);
        ::posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_APPEND, 0);
        const int rc = ::posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
        ::posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) pid_ = -1;
    }
    Spawned(const Spawned&) = delete;
    Spawned& operator=(const Spawned&) = delete;
    ~Spawned() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            (void)wait();
        }
    }

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }

    // True once the process has a handler for `sig` (/proc/PID/status SigCgt), false if it
    // ended first (zombie or gone). Polls; no time limit of its own (ctest's timeout is the bound).
    bool wait_for_handler(int sig) const {
        for (;;) {
            std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
            std::string line;
            bool found = false;
            while (std::getline(status, line)) {
                if (line.rfind("State:", 0) == 0 && line.find('Z') != std::string::npos) return false;
                if (line.rfind("SigCgt:", 0) != 0) continue;
                const unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
                if ((mask >> (sig - 1)) & 1u) return true;
                found = true;
            }
            if (!found) return false;  // reaped
            ::usleep(2000);
        }
    }

    // Still running (not ended, not a zombie).
    [[nodiscard]] bool running() const {
        std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
        std::string line;
        while (std::getline(status, line)) {
            if (line.rfind("State:", 0) == 0) return line.find('Z') == std::string::npos;
        }
        return false;
    }

    ProcessResult wait() {
        ProcessResult r;
        int status = 0;
        if (pid_ > 0 && ::waitpid(pid_, &status, 0) == pid_) {
            if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
            if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
        }
        pid_ = -1;
        r.out = slurp(out_);
        r.err = slurp(err_);
        return r;
    }

private:
    static std::string slurp(const std::filesystem::path& p) {
        std::ifstream in(p);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    std::filesystem::path out_, err_;
    pid_t pid_ = -1;
};

}  // namespace rdd::test
