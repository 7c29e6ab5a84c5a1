#pragma once
// Runs the real reflinkdedup binary and parses its --json output.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace rdd::test {

struct CliRun {
    ProcessResult process;
    nlohmann::json json;  // null unless the output parsed as JSON
};

inline CliRun run_reflinkdedup(const std::vector<std::string>& args) {
    std::vector<std::string> argv{RDD_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    CliRun run{run_process(argv), nullptr};
    run.json = nlohmann::json::parse(run.process.out, nullptr, /*allow_exceptions=*/false);
    if (run.json.is_discarded()) run.json = nullptr;
    return run;
}

// gtest context for failures: the command's exit code and both streams.
inline std::string describe(const CliRun& r) {
    return "exit=" + std::to_string(r.process.exit_code) + " signal=" +
           std::to_string(r.process.term_signal) + "\nstdout: " + r.process.out +
           "\nstderr: " + r.process.err;
}

}  // namespace rdd::test
