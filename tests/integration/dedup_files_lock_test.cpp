// `dedup-files --lock=lease|immutable`: files in write use are skipped and reported with the
// writer's pid; files only read are shared; the immutable method leaves every flag as it was.
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "cli_runner.hpp"
#include "kill_and_recover.hpp"
#include "support/file_checks.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::test {
namespace {

namespace fs = std::filesystem;
constexpr std::uint64_t kMiB = 1 << 20;

// A child process that holds `path` open with `flags` until destroyed.
class HeldOpen {
public:
    HeldOpen(const fs::path& path, int flags) {
        int ready[2];
        if (::pipe(ready) != 0) throw std::runtime_error("pipe");
        pid_ = ::fork();
        if (pid_ == 0) {
            const int fd = ::open(path.c_str(), flags);
            const char c = fd >= 0 ? 'y' : 'n';
            (void)!::write(ready[1], &c, 1);
            for (;;) ::pause();
        }
        ::close(ready[1]);
        char c = 'n';
        (void)!::read(ready[0], &c, 1);
        ::close(ready[0]);
        if (c != 'y') throw std::runtime_error("child could not open " + path.string());
    }
    ~HeldOpen() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    HeldOpen(const HeldOpen&) = delete;
    HeldOpen& operator=(const HeldOpen&) = delete;
    [[nodiscard]] pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
};

std::vector<std::string> argv_of(const std::vector<std::string>& args) {
    std::vector<std::string> argv{RDD_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

class DedupFilesLock : public LoopFsTest {
protected:
    // The freeze journal lives in the fixture's own directory, never under /var/lib.
    std::string state_dir() { return (fs().temp_dir() / "state").string(); }

    void make_copies() {
        write_random_file(path("src"), 2 * kMiB, 21);
        for (const char* n : {"written", "read", "free"}) {
            run_checked({"cp", "--reflink=never", path("src").string(), path(n).string()});
        }
        fs().sync();
    }
    CliRun run(const std::string& method) {
        return run_reflinkdedup({"dedup-files", "--json", "--lock=" + method, "--state-dir", state_dir(),
                                 path("src"), path("written"), path("read"), path("free")});
    }
};

TEST_P(DedupFilesLock, LeaseSkipsTheFileInWriteUseAndNamesTheWriter) {
    make_copies();
    const auto before = snapshot_metadata(path("written"));
    const HeldOpen writer(path("written"), O_WRONLY);
    const HeldOpen reader(path("read"), O_RDONLY);

    const CliRun r = run("lease");

    EXPECT_EQ(r.process.exit_code, 1) << describe(r);
    ASSERT_EQ(r.json["skipped"].size(), 1u) << describe(r);
    EXPECT_EQ(r.json["skipped"][0]["path"], path("written").string());
    const std::string reason = r.json["skipped"][0]["reason"];
    EXPECT_NE(reason.find("in write use: pid " + std::to_string(writer.pid())), std::string::npos) << reason;
    EXPECT_EQ(bytes_shared_with(path("src"), path("written")), 0u);
    EXPECT_EQ(bytes_shared_with(path("src"), path("read")), 2 * kMiB);
    EXPECT_EQ(bytes_shared_with(path("src"), path("free")), 2 * kMiB);
    EXPECT_EQ(snapshot_metadata(path("written")), before);
}

TEST_P(DedupFilesLock, ImmutableSkipsTheWriterAndRestoresEveryFlag) {
    make_copies();
    run_checked({"chattr", "+d", path("free").string()});  // nodump: must survive the freeze
    const auto flags_before = snapshot_metadata(path("free")).inode_flags;
    const HeldOpen writer(path("written"), O_RDWR);
    const HeldOpen reader(path("read"), O_RDONLY);

    const CliRun r = run("immutable");

    EXPECT_EQ(r.process.exit_code, 1) << describe(r);
    ASSERT_EQ(r.json["skipped"].size(), 1u) << describe(r);
    EXPECT_EQ(r.json["skipped"][0]["path"], path("written").string());
    EXPECT_NE(r.json["skipped"][0]["reason"].get<std::string>().find("pid " + std::to_string(writer.pid())),
              std::string::npos);
    EXPECT_EQ(bytes_shared_with(path("src"), path("read")), 2 * kMiB);
    EXPECT_EQ(bytes_shared_with(path("src"), path("free")), 2 * kMiB);
    EXPECT_EQ(snapshot_metadata(path("free")).inode_flags, flags_before);
    for (const char* n : {"src", "written", "read"}) {
        const auto flags = snapshot_metadata(path(n)).inode_flags;
        ASSERT_TRUE(flags.has_value());
        EXPECT_EQ(*flags & FS_IMMUTABLE_FL, 0u) << n;
    }
    run_checked({"chattr", "-d", path("free").string()});
}

TEST_P(DedupFilesLock, NoneSharesEvenFilesInWriteUseTheKernelStillCompares) {
    make_copies();
    const HeldOpen writer(path("written"), O_WRONLY);
    const CliRun r = run("none");
    EXPECT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(bytes_shared_with(path("src"), path("written")), 2 * kMiB);
}

// SIGKILL at many moments of an immutable-locked run: afterwards `recover` puts every flag back,
// and no byte or timestamp but ctime ever changed.
TEST_P(DedupFilesLock, KilledImmutableRunsAreRepairedByRecover) {
    constexpr int kFiles = 24;
    write_random_file(path("src"), 8 * kMiB, 31);
    std::vector<std::string> args{"dedup-files", "--json", "--lock=immutable", "--state-dir", state_dir(),
                                  path("src")};
    std::vector<fs::path> files{path("src")};
    for (int i = 0; i < kFiles; ++i) {
        files.push_back(path("copy" + std::to_string(i)));
        run_checked({"cp", "--reflink=never", path("src").string(), files.back().string()});
        args.push_back(files.back().string());
    }
    run_checked({"chattr", "+d", files[3].string()});  // a flag of its own, to be kept
    fs().sync();
    const std::string sum = sha256_file(path("src"));

    const KillStats k = kill_and_recover(argv_of(args), files, state_dir(), 20, [&](int round) {
        // Drop the sharing now and then so every round has work to do.
        if (round % 5 != 0) return;
        for (int i = 1; i <= kFiles; ++i) {
            const auto& f = files[static_cast<std::size_t>(i)];
            const fs::path tmp = f.string() + ".tmp";
            run_checked({"cp", "--reflink=never", "--preserve=all", f.string(), tmp.string()});
            fs::rename(tmp, f);
        }
        run_checked({"chattr", "+d", files[3].string()});
    });
    const int killed_mid_run = k.killed, rounds_repaired = k.repaired;
    EXPECT_GE(killed_mid_run, 10);  // most kills landed while it ran...
    EXPECT_GE(rounds_repaired, 3);  // ...and several while files were frozen
    for (const auto& f : files) EXPECT_EQ(sha256_file(f), sum) << f;
    run_checked({"chattr", "-d", files[3].string()});
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(DedupFilesLock);

}  // namespace
}  // namespace rdd::test
