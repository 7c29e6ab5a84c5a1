#include "support/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <string_view>

#include "reflinkdedup/util/sys_error.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

extern char** environ;

namespace rdd::test {

namespace {

constexpr std::string_view kFallbackDirs = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool is_executable_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::optional<std::string> search_dirs(std::string_view dirs, const std::string& name) {
    while (!dirs.empty()) {
        const auto colon = dirs.find(':');
        std::string dir(dirs.substr(0, colon));
        dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
        if (dir.empty()) dir = ".";
        std::string candidate = dir + "/" + name;
        if (is_executable_file(candidate)) return candidate;
    }
    return std::nullopt;
}

// The caller's environment with options.env laid over it.
std::vector<std::string> build_environment(const ProcessOptions& options) {
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const auto name = entry.substr(0, entry.find('='));
        bool overridden = false;
        for (const auto& [key, value] : options.env) overridden = overridden || key == name;
        if (!overridden) env.emplace_back(entry);
    }
    for (const auto& [key, value] : options.env) env.push_back(key + "=" + value);
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

struct Pipe {
    UniqueFd read;
    UniqueFd write;
};

Pipe make_pipe() {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) throw_errno("pipe2", "");
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// posix_spawn's C objects, destroyed on every path.
struct SpawnSetup {
    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attr{};

    SpawnSetup() {
        if (int rc = ::posix_spawn_file_actions_init(&actions); rc != 0)
            throw SysError(rc, "posix_spawn_file_actions_init", "");
        if (int rc = ::posix_spawnattr_init(&attr); rc != 0) {
            ::posix_spawn_file_actions_destroy(&actions);
            throw SysError(rc, "posix_spawnattr_init", "");
        }
    }
    ~SpawnSetup() {
        ::posix_spawnattr_destroy(&attr);
        ::posix_spawn_file_actions_destroy(&actions);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;
};

void check_spawn(int rc, const char* what) {
    if (rc != 0) throw SysError(rc, what, "");
}

// Reads both pipes until both reach EOF; polling both means a child that fills one pipe
// while we block on the other cannot deadlock us.
void drain(int out_fd, int err_fd, std::string& out, std::string& err) {
    std::array<pollfd, 2> fds{pollfd{out_fd, POLLIN, 0}, pollfd{err_fd, POLLIN, 0}};
    std::array<std::string*, 2> sinks{&out, &err};
    std::array<char, 65536> buf{};
    int open_count = 2;
    while (open_count > 0) {
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll", "");
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            const ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
            if (n > 0) {
                sinks[i]->append(buf.data(), static_cast<std::size_t>(n));
            } else if (n == 0) {
                fds[i].fd = -1;  // poll ignores negative fds
                --open_count;
            } else if (errno != EINTR && errno != EAGAIN) {
                throw_errno("read from child", "");
            }
        }
    }
}

int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw_errno("waitpid", "");
    }
    return status;
}

std::string trimmed(std::string text, std::size_t max_len) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (text.size() > max_len) text = "..." + text.substr(text.size() - max_len);
    return text;
}

std::string describe_failure(const std::vector<std::string>& argv, const ProcessResult& r) {
    std::string msg = format_command(argv) + ": ";
    msg += r.term_signal != 0 ? "killed by signal " + std::to_string(r.term_signal)
                              : "exit status " + std::to_string(r.exit_code);
    const std::string err = trimmed(r.err, 4096);
    if (!err.empty()) msg += ": " + err;
    return msg;
}

}  // namespace

ProcessError::ProcessError(const std::vector<std::string>& argv, ProcessResult result)
    : std::runtime_error(describe_failure(argv, result)), result_(std::move(result)) {}

std::optional<std::string> find_program(const std::string& name) {
    if (name.empty()) return std::nullopt;
    if (name.find('/') != std::string::npos) {
        return is_executable_file(name) ? std::optional<std::string>(name) : std::nullopt;
    }
    const char* path = std::getenv("PATH");
    if (path != nullptr) {
        if (auto found = search_dirs(path, name)) return found;
    }
    return search_dirs(kFallbackDirs, name);
}

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
    if (argv.empty()) throw std::invalid_argument("run_process: empty argv");
    const auto program = find_program(argv[0]);
    if (!program) throw SysError(ENOENT, "find program", argv[0]);

    Pipe out = make_pipe();
    Pipe err = make_pipe();
    pid_t pid = -1;
    {
        SpawnSetup setup;
        check_spawn(::posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null",
                                                       O_RDONLY, 0),
                    "posix_spawn_file_actions_addopen");
        check_spawn(::posix_spawn_file_actions_adddup2(&setup.actions, out.write.get(), STDOUT_FILENO),
                    "posix_spawn_file_actions_adddup2");
        check_spawn(::posix_spawn_file_actions_adddup2(&setup.actions, err.write.get(), STDERR_FILENO),
                    "posix_spawn_file_actions_adddup2");
        // The child must not inherit a blocked mask or an ignored SIGPIPE from the test process.
        sigset_t none;
        sigset_t defaults;
        sigemptyset(&none);
        sigemptyset(&defaults);
        sigaddset(&defaults, SIGPIPE);
        check_spawn(::posix_spawnattr_setsigmask(&setup.attr, &none), "posix_spawnattr_setsigmask");
        check_spawn(::posix_spawnattr_setsigdefault(&setup.attr, &defaults),
                    "posix_spawnattr_setsigdefault");
        check_spawn(::posix_spawnattr_setflags(
                        &setup.attr, static_cast<short>(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)),
                    "posix_spawnattr_setflags");

        std::vector<std::string> args = argv;
        std::vector<std::string> env = build_environment(options);
        auto c_args = c_strings(args);
        auto c_env = c_strings(env);
        const int rc = ::posix_spawn(&pid, program->c_str(), &setup.actions, &setup.attr,
                                     c_args.data(), c_env.data());
        if (rc != 0) throw SysError(rc, "posix_spawn", *program);
    }
    // Our copies of the write ends must go, or the reads below never see EOF.
    out.write.reset();
    err.write.reset();

    ProcessResult result;
    try {
        drain(out.read.get(), err.read.get(), result.out, result.err);
    } catch (...) {
        ::kill(pid, SIGKILL);
        (void)wait_for(pid);
        throw;
    }
    const int status = wait_for(pid);
    if (WIFSIGNALED(status)) {
        result.term_signal = WTERMSIG(status);
    } else {
        result.exit_code = WEXITSTATUS(status);
    }
    return result;
}

ProcessResult run_checked(const std::vector<std::string>& argv, const ProcessOptions& options) {
    ProcessResult result = run_process(argv, options);
    if (!result.ok()) throw ProcessError(argv, std::move(result));
    return result;
}

std::string format_command(const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& arg : argv) {
        if (!text.empty()) text += ' ';
        const bool plain = !arg.empty() && arg.find_first_of(" \t\n'\"\\$") == std::string::npos;
        text += plain ? arg : "'" + arg + "'";
    }
    return text;
}

}  // namespace rdd::test
