#pragma once
// Shared fixture of the lock integration tests: a fresh loop-mounted btrfs or XFS per test,
// small random files, inode flags, and opening a job's files the way the engine does.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "reflinkdedup/fs/regular_file.hpp"
#include "reflinkdedup/lock/lock_target.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::lock::test {

class LockFsTest : public rdd::test::LoopFsTest {
protected:
    static constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;

    // A 1 MiB (by default) file of the seed's random stream, on the test filesystem.
    std::filesystem::path make_file(const std::string& name, std::uint64_t seed, std::uint64_t bytes = kMiB);
    // FIDEDUPERANGE and the journal keep state outside the image: fs().temp_dir()/state.
    [[nodiscard]] std::filesystem::path state_dir() const { return fs_->temp_dir() / "state"; }
};

[[nodiscard]] std::uint32_t flags_of(const std::filesystem::path& path);
void set_flags(const std::filesystem::path& path, std::uint32_t flags);

// The job's files opened O_RDONLY (as the engine opens them); targets() points at them.
class OpenedJob {
public:
    explicit OpenedJob(const std::vector<std::filesystem::path>& paths);
    [[nodiscard]] const std::vector<LockTarget>& targets() const noexcept { return targets_; }
    [[nodiscard]] int fd(std::size_t i) const { return files_.at(i).fd.get(); }

private:
    std::vector<OpenedFile> files_;
    std::vector<LockTarget> targets_;
};

}  // namespace rdd::lock::test
