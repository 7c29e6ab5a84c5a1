// scan-vol's memory does not grow with the number of files: 200,000 files in 400 directories
// scan within a fixed peak RSS, measured by the kernel (wait4's ru_maxrss).
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "support/fs_kind_param.hpp"

extern char** environ;

namespace rdd::test {
namespace {

namespace fs = std::filesystem;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;  // shadow memory and quarantine make RSS meaningless
#else
constexpr bool kSanitized = false;
#endif

struct Measured {
    int exit_code = -1;
    long max_rss_kib = 0;
};

Measured run_measured(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("posix_spawn failed");
    int status = 0;
    struct rusage ru {};
    ::wait4(pid, &status, 0, &ru);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ru.ru_maxrss};
}

class ScanVolScale : public LoopFsTest {
protected:
    LoopFsOptions loop_fs_options() const override {
        LoopFsOptions o;
        o.image_bytes = std::uint64_t{4} << 30;  // room for 200k inodes on both filesystems
        return o;
    }
};

TEST_P(ScanVolScale, TwoHundredThousandFilesScanInBoundedMemory) {
    constexpr int kDirs = 400, kPerDir = 500;
    std::string content(100, 'x');
    for (int d = 0; d < kDirs; ++d) {
        const fs::path dir = path("d" + std::to_string(d));
        fs::create_directory(dir);
        for (int f = 0; f < kPerDir; ++f) {
            const std::string p = (dir / std::to_string(f)).string();
            const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            ASSERT_GE(fd, 0) << p;
            content[0] = static_cast<char>('a' + f % 26);  // some duplicates, some not
            ASSERT_EQ(::write(fd, content.data(), content.size()), 100);
            ::close(fd);
        }
    }
    fs().sync();
    const std::string db = (fs().temp_dir() / "catalog.sqlite").string();

    const Measured m = run_measured({RDD_BINARY, "scan-vol", "--json", "--db", db, fs().mount_point().string()});

    ASSERT_EQ(m.exit_code, 0);
    std::cout << "peak RSS of scan-vol over 200,000 files: " << m.max_rss_kib / 1024 << " MiB\n";
    if (!kSanitized) {
        EXPECT_LT(m.max_rss_kib, 160 * 1024);  // the bound: 160 MiB, whatever the count
    }
    // The rescan touches every file again (no reads): same bound.
    const Measured again = run_measured({RDD_BINARY, "scan-vol", "--json", "--db", db, fs().mount_point().string()});
    ASSERT_EQ(again.exit_code, 0);
    if (!kSanitized) {
        EXPECT_LT(again.max_rss_kib, 160 * 1024);
    }
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(ScanVolScale);

}  // namespace
}  // namespace rdd::test
