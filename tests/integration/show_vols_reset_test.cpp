// `show-vols` and `reset`: what a catalog knows per volume, and forgetting it.
#include <filesystem>

#include "cli_runner.hpp"
#include "support/file_checks.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::test {
namespace {

namespace fs = std::filesystem;

class ShowVolsReset : public LoopFsTest {
protected:
    std::string db() { return (fs().temp_dir() / "catalog.sqlite").string(); }
    CliRun scan(const fs::path& root) {
        return run_reflinkdedup({"scan-vol", "--json", "--db", db(), root.string()});
    }
};

TEST_P(ShowVolsReset, ListsVolumesAndForgetsOne) {
    fs::create_directories(path("a"));
    fs::create_directories(path("b"));
    write_random_file(path("a/1"), 100'000, 1);
    write_random_file(path("b/1"), 200'000, 2);
    write_random_file(path("b/2"), 300'000, 3);
    fs().sync();
    ASSERT_EQ(scan(path("a")).process.exit_code, 0);
    ASSERT_EQ(scan(path("b")).process.exit_code, 0);

    const CliRun shown = run_reflinkdedup({"show-vols", "--json", "--db", db()});
    ASSERT_EQ(shown.process.exit_code, 0) << describe(shown);
    ASSERT_EQ(shown.json["volumes"].size(), 2u) << describe(shown);
    const auto& vb = shown.json["volumes"][1];
    EXPECT_EQ(vb["path"], fs::canonical(path("b")).string());
    EXPECT_EQ(vb["files"], 2);
    EXPECT_EQ(vb["bytes"], 500'000);
    EXPECT_EQ(vb["state"], "complete");

    const CliRun reset = run_reflinkdedup({"reset", "--db", db(), path("b").string()});
    ASSERT_EQ(reset.process.exit_code, 0) << describe(reset);
    const CliRun after = run_reflinkdedup({"show-vols", "--json", "--db", db()});
    ASSERT_EQ(after.json["volumes"].size(), 1u);
    // The next scan of b reads it in full; a's catalogue is untouched.
    const CliRun again = scan(path("b"));
    EXPECT_EQ(again.json["bytes_read"], 500'000);
    EXPECT_EQ(scan(path("a")).json["bytes_read"], 0);
    EXPECT_EQ(run_reflinkdedup({"reset", "--db", db(), "no-such-volume"}).process.exit_code, 2);
    EXPECT_EQ(run_reflinkdedup({"reset", "--db", db()}).process.exit_code, 2);
    EXPECT_EQ(run_reflinkdedup({"reset", "--all", "--db", db()}).process.exit_code, 0);
    EXPECT_TRUE(run_reflinkdedup({"show-vols", "--json", "--db", db()}).json["volumes"].empty());
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(ShowVolsReset);

}  // namespace
}  // namespace rdd::test
