#include "child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "reflinkdedup/util/sys_error.hpp"

extern char** environ;

namespace rdd::lock::test {

std::string helper_path() { return RDD_LOCK_TEST_HELPER; }

Child::Child(const std::vector<std::string>& argv) {
    std::array<int, 2> in{};
    std::array<int, 2> out{};
    if (::pipe2(in.data(), O_CLOEXEC) != 0) throw_errno("pipe2", "");
    UniqueFd in_r(in[0]);
    in_ = UniqueFd(in[1]);
    if (::pipe2(out.data(), O_CLOEXEC) != 0) throw_errno("pipe2", "");
    out_ = UniqueFd(out[0]);
    UniqueFd out_w(out[1]);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_r.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_w.get(), STDOUT_FILENO);
    std::vector<std::string> args = argv;
    std::vector<char*> cargs;
    for (auto& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    const int err = ::posix_spawn(&pid_, cargs[0], &actions, nullptr, cargs.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) throw SysError(err, "posix_spawn", argv[0]);
}

Child::~Child() {
    in_.reset();
    if (!reaped_) {
        kill(SIGKILL);
        (void)wait();
    }
}

std::optional<std::string> Child::read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (const auto nl = buffered_.find('\n'); nl != std::string::npos) {
            std::string line = buffered_.substr(0, nl);
            buffered_.erase(0, nl + 1);
            return line;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd p{out_.get(), POLLIN, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
        if (rc < 0 && errno != EINTR) throw_errno("poll", "child stdout");
        if (rc <= 0) continue;
        char buf[256];
        const ssize_t n = ::read(out_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return std::nullopt;  // it closed its stdout
        buffered_.append(buf, static_cast<std::size_t>(n));
    }
}

void Child::kill(int sig) noexcept {
    if (!reaped_ && pid_ > 0) ::kill(pid_, sig);
}

int Child::wait() noexcept {
    if (reaped_ || pid_ <= 0) return -1;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return status;
}

std::optional<int> Child::try_wait() noexcept {
    if (reaped_ || pid_ <= 0) return std::nullopt;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
    reaped_ = true;
    return status;
}

std::optional<std::string> first_line(Child& child) { return child.read_line(std::chrono::seconds(5)); }

}  // namespace rdd::lock::test
