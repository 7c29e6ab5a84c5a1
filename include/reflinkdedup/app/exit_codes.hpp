#pragma once
// The process exit codes, documented in --help and the README. Scripts and systemd units rely
// on them: never renumber.
namespace rdd {

enum class ExitCode : int {
    Done = 0,         // everything asked was done (also: nothing to do)
    Partial = 1,      // done, but some files were skipped or failed; they are listed
    InputError = 2,   // usage or input error; nothing was changed
    CatalogBusy = 3,  // another reflinkdedup holds the catalog
    Interrupted = 4,  // stopped by SIGINT/SIGTERM after finishing the current kernel call
    Failure = 5,      // an unexpected system error stopped the run
};

[[nodiscard]] constexpr int to_int(ExitCode c) noexcept { return static_cast<int>(c); }

}  // namespace rdd
