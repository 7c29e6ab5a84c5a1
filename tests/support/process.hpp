#pragma once
// Runs a child program without a shell and captures what it prints, for tests that drive
// mkfs, losetup, cp, sha256sum or the product binary itself.
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace rdd::test {

struct ProcessResult {
    int exit_code = -1;   // WEXITSTATUS, or -1 when killed by a signal
    int term_signal = 0;  // WTERMSIG, or 0 when it exited normally
    std::string out;
    std::string err;

    [[nodiscard]] bool ok() const noexcept { return term_signal == 0 && exit_code == 0; }
};

struct ProcessOptions {
    // Added to (or replacing) the caller's environment, e.g. {"LC_ALL", "C"}.
    std::vector<std::pair<std::string, std::string>> env;
};

// run_checked's error: keeps the whole result so a test can still look at stdout.
class ProcessError : public std::runtime_error {
public:
    ProcessError(const std::vector<std::string>& argv, ProcessResult result);
    [[nodiscard]] const ProcessResult& result() const noexcept { return result_; }

private:
    ProcessResult result_;
};

// PATH lookup that also tries the sbin directories, which a non-login root shell or a CI
// runner may leave out of PATH (mkfs.*, losetup live there). Names with a '/' are checked as is.
[[nodiscard]] std::optional<std::string> find_program(const std::string& name);

// Spawns argv (argv[0] resolved with find_program), stdin from /dev/null, waits for it.
// Throws SysError when it cannot be started; a non-zero exit is not an error here.
[[nodiscard]] ProcessResult run_process(const std::vector<std::string>& argv,
                                        const ProcessOptions& options = {});

// As run_process, but throws ProcessError (message includes stderr) unless it exited 0.
ProcessResult run_checked(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// "cmd 'arg with space' ..." for messages.
[[nodiscard]] std::string format_command(const std::vector<std::string>& argv);

}  // namespace rdd::test
