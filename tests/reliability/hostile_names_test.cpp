// Hostile names: newlines, spaces, tabs, invalid UTF-8, 255-byte names, and a tree 220 levels
// deep whose paths are longer than PATH_MAX. scan-vol, dedup-vol and dedup-files must share
// the duplicates, change nothing else, print parseable JSON (invalid UTF-8 replaced) and text
// whose lines a name cannot break, and refuse with one line.
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>

#include "hostile_input_support.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::test::hostile {
namespace {

constexpr std::uint64_t kSize = 192 * kKiB;  // three 64 KiB blocks: never inline on btrfs

// 85 three-byte characters: a 255-byte name (NAME_MAX) that is valid UTF-8.
std::string euro_name() {
    std::string s;
    for (int i = 0; i < 85; ++i) s += "\xE2\x82\xAC";
    return s;
}

const std::vector<std::string>& hostile_names() {
    static const std::vector<std::string> names{
        "new\nline", "  spaces and\ttab ", "bad \xFF\xFE utf8", euro_name(), std::string(255, 'x'), "-n", "back\\slash"};
    return names;
}

class HostileNames : public LoopFsTest {
protected:
    std::string db() { return (fs().temp_dir() / "catalog.sqlite").string(); }

    // Lines of `out` that begin with the tail of a name after its newline: a name broke the text.
    static void expect_unbroken(const std::string& out) {
        std::size_t start = 0;
        while (start < out.size()) {
            const std::size_t end = out.find('\n', start);
            const std::string line = out.substr(start, end - start);
            EXPECT_NE(line.rfind("line", 0), 0u) << "a name's newline broke the output:\n" << out;
            EXPECT_NE(line.rfind("lines/", 0), 0u) << "a name's newline broke the output:\n" << out;
            EXPECT_NE(line.rfind("fake", 0), 0u) << "a name's newline broke the output:\n" << out;
            if (end == std::string::npos) break;
            start = end + 1;
        }
    }
};

TEST_P(HostileNames, AreScannedSharedAndPrintedWithoutBreakingLinesOrJson) {
    const fs::path one = path("v/one"), two = path("v/two\nlines");
    fs::create_directories(one);
    fs::create_directories(two);
    std::map<fs::path, std::string> sums;
    std::map<fs::path, MetadataSnapshot> meta;
    std::uint64_t seed = 1;
    for (const std::string& name : hostile_names()) {
        write_random_file(one / name, kSize, seed);
        write_random_file(two / name, kSize, seed++);
    }
    fs().sync();
    for (const std::string& name : hostile_names()) {
        for (const fs::path& p : {one / name, two / name}) {
            sums[p] = sha256_file(p);
            meta[p] = snapshot_metadata(p);
        }
    }
    const std::string vol = path("v").string();
    const std::size_t n = hostile_names().size();

    // JSON: parses; valid names come back byte for byte, invalid bytes as U+FFFD.
    const CliRun plan = run_limited({"dedup-vol", "--dry-run", "--json", "--db", db(), vol});
    ASSERT_EQ(plan.process.exit_code, 0) << describe(plan);
    ASSERT_TRUE(plan.json.is_object()) << describe(plan);
    EXPECT_EQ(count_lines(plan.process.out), 1u);
    std::set<std::string> plan_paths;
    for (const auto& job : plan.json["plan"]) plan_paths.insert(job["path"].get<std::string>());
    EXPECT_EQ(plan_paths.size(), n) << plan.process.out;
    for (const std::string& name : hostile_names()) {
        const bool utf8_ok = name.find('\xFF') == std::string::npos;
        const std::string want = utf8_ok ? name : "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8";
        EXPECT_TRUE(plan_paths.count((one / want).string()) + plan_paths.count((two / want).string()) == 1)
            << "no planned path for " << want << " in " << plan.process.out;
    }

    const CliRun run = run_limited({"dedup-vol", "--json", "--db", db(), vol});
    ASSERT_EQ(run.process.exit_code, 0) << describe(run);
    ASSERT_TRUE(run.json.is_object()) << describe(run);
    EXPECT_EQ(run.json["scan"]["error_count"], 0) << run.process.out;
    EXPECT_EQ(run.json["bytes_shared"], n * kSize) << run.process.out;
    for (const std::string& name : hostile_names()) {
        EXPECT_EQ(bytes_shared_with(one / name, two / name), kSize) << name;
    }
    for (const auto& [p, sum] : sums) {
        EXPECT_EQ(sha256_file(p), sum) << p;
        EXPECT_EQ(describe_differences(snapshot_metadata(p), meta[p]), "") << p;
    }

    const CliRun scan_text = run_limited({"scan-vol", "--db", db(), vol});
    EXPECT_EQ(scan_text.process.exit_code, 0) << describe(scan_text);
    expect_unbroken(scan_text.process.out);
    const CliRun report = run_limited({"report", "--json", "--db", db()});
    EXPECT_EQ(report.process.exit_code, 0) << describe(report);
    EXPECT_EQ(report.json["total"]["files"], 2 * n) << report.process.out;
}

TEST_P(HostileNames, DedupFilesListsAndRefusesHostileNamesOnOneLineEach) {
    fs::create_directories(path("d"));
    const fs::path src = path("d/new\nline src"), dst = path("d/") / euro_name();
    const fs::path gone = path("d/gone\nfake: shared"), bad = path("d/bad \xFF dst");
    write_random_file(src, kSize, 7);
    write_random_file(dst, kSize, 7);
    write_random_file(bad, kSize, 7);
    fs().sync();

    // Text: the missing destination is listed on one line.
    const CliRun text = run_limited({"dedup-files", src, dst, gone, bad});
    EXPECT_EQ(text.process.exit_code, 1) << describe(text);
    expect_unbroken(text.process.out);
    EXPECT_EQ(bytes_shared_with(src, dst), kSize);
    EXPECT_EQ(bytes_shared_with(src, bad), kSize);

    const CliRun json = run_limited({"dedup-files", "--json", "--dry-run", src, gone, bad});
    EXPECT_EQ(json.process.exit_code, 1) << describe(json);
    ASSERT_TRUE(json.json.is_object()) << describe(json);
    ASSERT_EQ(json.json["skipped"].size(), 1u) << json.process.out;
    EXPECT_EQ(json.json["skipped"][0]["path"], gone.string());

    // A refused SOURCE whose name holds a newline: still one line on stderr.
    expect_refused(run_limited({"dedup-files", path("d/missing\nsource"), dst}), "missing");
    // The same through a directory: no file under it is shared, one line.
    expect_refused(run_limited({"dedup-files", path("d"), dst}), path("d").string() + ":");
}

// dedup-vol's text (the dry run lists every planned file) must not be broken by a newline in
// a name either.
TEST_P(HostileNames, DedupVolTextKeepsEachPlannedFileOnOneLine) {
    const fs::path one = path("v/one"), two = path("v/two\nlines");
    fs::create_directories(one);
    fs::create_directories(two);
    std::uint64_t seed = 1;
    for (const std::string& name : hostile_names()) {
        write_random_file(one / name, kSize, seed);
        write_random_file(two / name, kSize, seed++);
    }
    fs().sync();
    const CliRun dry = run_limited({"dedup-vol", "--dry-run", "--db", db(), path("v").string()});
    ASSERT_EQ(dry.process.exit_code, 0) << describe(dry);
    expect_unbroken(dry.process.out);
    std::size_t planned = 0;
    for (std::size_t at = 0; (at = dry.process.out.find(": share ", at)) != std::string::npos; ++at) ++planned;
    EXPECT_EQ(planned, hostile_names().size()) << dry.process.out;
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(HostileNames);

// A tree deeper than PATH_MAX: built and inspected through directory descriptors, since no
// path to its leaves can be handed to a system call.
class DeepTree : public HostileNames {
protected:
    static constexpr int kLevels = 220;

    void TearDown() override {
        for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) ::close(*it);
        dirs_.clear();  // before the unmount; the tree goes with the image
        HostileNames::TearDown();
    }

    // /proc/self/fd/N/name: a short path to `name` in the deepest directory.
    fs::path leaf(const std::string& name) const {
        return fs::path("/proc/self/fd") / std::to_string(dirs_.back()) / name;
    }
    // The same for a child process (sha256sum).
    fs::path leaf_for_child(const std::string& name) const {
        return fs::path("/proc") / std::to_string(::getpid()) / "fd" / std::to_string(dirs_.back()) / name;
    }

    std::vector<int> dirs_;
};

TEST_P(DeepTree, LongerThanPathMaxIsScannedAndShared) {
    int fd = ::open(fs().mount_point().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    dirs_.push_back(fd);
    std::string component = "deep", relative;
    for (int i = 0; i < kLevels; ++i) {
        ASSERT_EQ(::mkdirat(dirs_.back(), component.c_str(), 0755), 0) << i;
        fd = ::openat(dirs_.back(), component.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_GE(fd, 0) << i;
        dirs_.push_back(fd);
        relative += (relative.empty() ? "" : "/") + component;
        component = "level-" + std::to_string(i) + std::string(24, '-');  // ~31 bytes a level
    }
    ASSERT_GT(relative.size(), static_cast<std::size_t>(PATH_MAX));
    write_random_file(leaf("a"), kSize, 21);
    write_random_file(leaf("b"), kSize, 21);
    write_random_file(path("top"), kSize, 21);
    fs().sync();
    const std::string sum = sha256_file(leaf_for_child("a"));
    const MetadataSnapshot meta_a = snapshot_metadata(leaf("a")), meta_b = snapshot_metadata(leaf("b"));

    const CliRun scan = run_limited({"scan-vol", "--json", "--db", db(), fs().mount_point()});
    ASSERT_EQ(scan.process.exit_code, 0) << describe(scan);
    EXPECT_EQ(scan.json["files_hashed"], 3) << scan.process.out;
    EXPECT_EQ(scan.json["error_count"], 0) << scan.process.out;

    const CliRun run = run_limited({"dedup-vol", "--json", "--db", db(), fs().mount_point()});
    const std::string skipped = run.json.is_object() ? run.json["skipped"].dump().substr(0, 300) : run.process.err;
    EXPECT_EQ(run.process.exit_code, 0) << skipped;  // (the paths are 7 KiB long)
    ASSERT_TRUE(run.json.is_object()) << run.process.err;
    EXPECT_EQ(run.json["skipped_count"], 0) << skipped;
    const auto top = fiemap_extents(path("top"));
    EXPECT_EQ(shared_at(top, 0, fiemap_extents(leaf("a")), 0, kSize), kSize);
    EXPECT_EQ(shared_at(top, 0, fiemap_extents(leaf("b")), 0, kSize), kSize);
    EXPECT_EQ(sha256_file(leaf_for_child("a")), sum);
    EXPECT_EQ(sha256_file(leaf_for_child("b")), sum);
    EXPECT_EQ(describe_differences(snapshot_metadata(leaf("a")), meta_a), "");
    EXPECT_EQ(describe_differences(snapshot_metadata(leaf("b")), meta_b), "");
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(DeepTree);

}  // namespace
}  // namespace rdd::test::hostile
