// The real binary on real loop-mounted btrfs and XFS: every --json output against
// docs/json-schema.md, `report`'s numbers, the configuration file's effect on a scan, the
// exit codes 0, 1, 3 and 4, and the kernel check (refused under an old kernel version,
// overridable, only on btrfs, never for a dry run).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "../integration/cli_runner.hpp"
#include "json_schema_doc.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/util/unique_fd.hpp"
#include "spawned.hpp"
#include "support/file_checks.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::test {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMiB = 1 << 20;

class CliOnFs : public LoopFsTest {
protected:
    std::string db() { return (fs().temp_dir() / "catalog.sqlite").string(); }
    CliRun run(std::vector<std::string> args) {
        args.insert(args.begin() + 1, {"--db", db()});
        return run_reflinkdedup(args);
    }
    void expect_schema(const std::string& object, const CliRun& r) {
        ASSERT_FALSE(r.json.is_null()) << describe(r);
        EXPECT_EQ(check_against_doc(doc_, object, r.json), std::vector<std::string>{}) << r.process.out;
    }
    // Two identical 1 MiB files, a 300000-byte file and a reflink copy of it, a unique file.
    void make_data() {
        fs::create_directories(path("d"));
        write_random_file(path("d/a"), kMiB, 1);
        write_random_file(path("d/b"), kMiB, 1);
        write_random_file(path("d/c"), 300'000, 2);
        run_checked({"cp", "--reflink=always", path("d/c").string(), path("d/c2").string()});
        write_random_file(path("d/u"), 200'000, 3);
        fs().sync();
    }

    JsonSchemaDoc doc_ = read_json_schema_doc(RDD_JSON_SCHEMA_DOC);
};

TEST_P(CliOnFs, EveryJsonOutputFollowsTheDocumentedSchema) {
    make_data();
    const CliRun scan = run({"scan-vol", "--json", path("d").string()});
    ASSERT_EQ(scan.process.exit_code, 0) << describe(scan);
    expect_schema("scan-vol", scan);
    EXPECT_EQ(scan.json["files_seen"], 5);

    const CliRun shown = run({"show-vols", "--json"});
    ASSERT_EQ(shown.process.exit_code, 0) << describe(shown);
    expect_schema("show-vols", shown);

    const CliRun report = run({"report", "--json"});
    ASSERT_EQ(report.process.exit_code, 0) << describe(report);
    expect_schema("report", report);

    const CliRun dry = run({"dedup-vol", "--json", "--dry-run", path("d").string()});
    ASSERT_EQ(dry.process.exit_code, 0) << describe(dry);
    expect_schema("dedup-vol", dry);
    EXPECT_TRUE(dry.json.contains("plan")) << "a dry run with work lists its plan";
    const CliRun vol = run({"dedup-vol", "--json", path("d").string()});
    ASSERT_EQ(vol.process.exit_code, 0) << describe(vol);
    expect_schema("dedup-vol", vol);
    EXPECT_EQ(bytes_shared_with(path("d/a"), path("d/b")), kMiB);

    write_random_file(path("d/x"), kMiB, 4);
    write_random_file(path("d/y"), kMiB, 4);
    fs().sync();
    const CliRun files = run_reflinkdedup({"dedup-files", "--json", path("d/x").string(), path("d/y").string(),
                                           path("d").string()});  // the directory is skipped
    ASSERT_EQ(files.process.exit_code, 1) << describe(files);
    expect_schema("dedup-files", files);
    ASSERT_EQ(files.json["skipped"].size(), 1u);
    EXPECT_EQ(files.json["skipped"][0]["path"], path("d").string());
}

// report: duplicate bytes are the copies beyond the first; reflinks count as shared; after a
// dedupe and a rescan that reads the layout again, the duplicates have become shared.
TEST_P(CliOnFs, ReportCountsDuplicatesAndShared) {
    make_data();
    ASSERT_EQ(run({"scan-vol", path("d").string()}).process.exit_code, 0);
    const CliRun before = run({"report", "--json"});
    ASSERT_EQ(before.process.exit_code, 0) << describe(before);
    const auto& t = before.json["total"];
    EXPECT_EQ(t["files"], 5);
    EXPECT_EQ(t["bytes"], 2 * kMiB + 600'000 + 200'000);
    EXPECT_EQ(t["hashed_files"], 5);
    EXPECT_EQ(t["duplicate_bytes"], kMiB) << before.process.out;  // b (or a) once
    EXPECT_EQ(t["shared_bytes"], 300'000) << before.process.out;   // c2 shares c's extents
    EXPECT_EQ(t["busy_files"], 0);
    ASSERT_EQ(before.json["volumes"].size(), 1u);
    EXPECT_EQ(before.json["volumes"][0]["path"], fs::canonical(path("d")).string());
    EXPECT_EQ(before.json["volumes"][0]["duplicate_bytes"], kMiB);

    const CliRun text_before = run({"report"});
    EXPECT_NE(text_before.process.out.find("freed so far: nothing yet"), std::string::npos) << text_before.process.out;
    EXPECT_TRUE(before.json["freed_bytes"].is_null());
    EXPECT_EQ(before.json["runs"], 0);

    // dedup-vol writes the new addresses back: the report knows at once, without a rescan,
    // and records what the run freed.
    const std::string a_sum = sha256_file(path("d/a")), b_sum = sha256_file(path("d/b"));
    const CliRun vol = run({"dedup-vol", "--json", path("d").string()});
    ASSERT_EQ(vol.process.exit_code, 0) << describe(vol);
    const CliRun after = run({"report", "--json"});
    expect_schema("report", after);
    EXPECT_EQ(after.json["total"]["duplicate_bytes"], 0) << after.process.out;
    EXPECT_EQ(after.json["total"]["shared_bytes"], kMiB + 300'000) << after.process.out;
    EXPECT_EQ(after.json["runs"], 1);
    EXPECT_EQ(after.json["freed_bytes"], vol.json["bytes_freed"]);
    EXPECT_GE(after.json["freed_bytes"].get<std::int64_t>(), static_cast<std::int64_t>(kMiB) - 64 * 1024);
    EXPECT_EQ(after.json["last_run"]["outcome"], "done");
    EXPECT_EQ(after.json["last_run"]["bytes_shared"], vol.json["bytes_shared"]);
    EXPECT_EQ(sha256_file(path("d/a")), a_sum);
    EXPECT_EQ(sha256_file(path("d/b")), b_sum);

    // A rehash of the layout agrees with what dedup-vol wrote back.
    ASSERT_EQ(run({"scan-vol", "--rehash", path("d").string()}).process.exit_code, 0);
    const CliRun rehashed = run({"report", "--json"});
    EXPECT_EQ(rehashed.json["total"]["duplicate_bytes"], 0) << rehashed.process.out;
    EXPECT_EQ(rehashed.json["total"]["shared_bytes"], kMiB + 300'000) << rehashed.process.out;

    const CliRun text = run({"report"});
    EXPECT_EQ(text.process.exit_code, 0);
    EXPECT_NE(text.process.out.find("by 1 dedup-vol runs; the last"), std::string::npos) << text.process.out;
}

// A file someone has open for writing is left alone by dedup-vol (exit 1) and shows up in
// report as busy, with the writer (this test's process).
TEST_P(CliOnFs, ReportListsBusyFiles) {
    make_data();
    const UniqueFd writer(::open(path("d/b").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    ASSERT_TRUE(writer);
    const CliRun vol = run({"dedup-vol", "--json", path("d").string()});
    ASSERT_EQ(vol.process.exit_code, 1) << describe(vol);
    EXPECT_EQ(bytes_shared_with(path("d/a"), path("d/b")), 0u);
    const CliRun report = run({"report", "--json"});
    ASSERT_EQ(report.process.exit_code, 0) << describe(report);
    expect_schema("report", report);
    ASSERT_EQ(report.json["busy_count"], 1) << report.process.out;
    const auto& busy = report.json["busy"][0];
    EXPECT_EQ(busy["path"], fs::canonical(path("d/b")).string()) << report.process.out;
    EXPECT_EQ(busy["pid"], ::getpid()) << report.process.out;
    EXPECT_EQ(busy["times"], 1);
    EXPECT_EQ(report.json["total"]["busy_files"], 1);
    const CliRun text = run({"report"});
    EXPECT_NE(text.process.out.find("1 files left alone while being written"), std::string::npos) << text.process.out;
}

// The configuration file's options reach a real scan; the command line replaces them.
TEST_P(CliOnFs, ConfigFileOptionsApplyToAScan) {
    make_data();
    const fs::path conf = fs().temp_dir() / "reflinkdedup.conf";
    std::ofstream(conf) << "# test\nexclude = *2\nexclude = u\nmin-size = 250000\n";
    const CliRun scan = run({"scan-vol", "--json", "--config", conf.string(), path("d").string()});
    ASSERT_EQ(scan.process.exit_code, 0) << describe(scan);
    EXPECT_EQ(scan.json["files_seen"], 3) << scan.process.out;  // a, b, c (c2, u excluded)
    EXPECT_EQ(scan.json["skipped"]["excluded"], 2) << scan.process.out;
    const CliRun cli_wins = run({"scan-vol", "--json", "--config", conf.string(), "--exclude", "nothing",
                                 "--min-size", "1", path("d").string()});
    ASSERT_EQ(cli_wins.process.exit_code, 0) << describe(cli_wins);
    EXPECT_EQ(cli_wins.json["files_seen"], 5) << cli_wins.process.out;
}

// Exit 3: scan-vol while another process (this test) holds the catalog's writer lock.
TEST_P(CliOnFs, CatalogBusyIsExit3) {
    make_data();
    ASSERT_EQ(run({"scan-vol", path("d").string()}).process.exit_code, 0);
    const catalog::Catalog held = catalog::Catalog::open_writer(db(), {});
    const CliRun busy = run({"scan-vol", "--json", path("d").string()});
    EXPECT_EQ(busy.process.exit_code, 3) << describe(busy);
    EXPECT_TRUE(busy.process.out.empty()) << describe(busy);
    EXPECT_NE(busy.process.err.find(".lock"), std::string::npos) << describe(busy);
    const CliRun dedup = run({"dedup-vol", path("d").string()});
    EXPECT_EQ(dedup.process.exit_code, 3) << describe(dedup);
}

// Exit 4: SIGTERM (scan-vol) or SIGINT (dedup-vol) while the run waits for the catalog; the
// run stops at its first check once it has the catalog, and nothing is shared.
TEST_P(CliOnFs, InterruptedIsExit4) {
    make_data();
    for (const auto& [command, sig] : {std::pair{"scan-vol", SIGTERM}, std::pair{"dedup-vol", SIGINT}}) {
        catalog::OpenOptions o;
        o.block_size = 65536;  // creates the catalog the first time
        std::optional<catalog::Catalog> held(catalog::Catalog::open_writer(db(), o));
        Spawned p({RDD_BINARY, command, "--db", db(), "--wait", "10m", "--json", path("d").string()},
                  fs().temp_dir() / "out", fs().temp_dir() / "err");
        ASSERT_TRUE(p.wait_for_handler(sig)) << command;
        ASSERT_EQ(::kill(p.pid(), sig), 0);
        held.reset();  // now it gets the catalog
        const ProcessResult r = p.wait();
        EXPECT_EQ(r.exit_code, 4) << command << "\n" << r.out << r.err;
        const auto j = nlohmann::json::parse(r.out, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << r.out;
        EXPECT_EQ(j["interrupted"], true) << r.out;
    }
    EXPECT_EQ(bytes_shared_with(path("d/a"), path("d/b")), 0u);
}

// Under a kernel version with known btrfs dedupe bugs (setarch --uname-2.6 makes uname(2)
// report 2.6.x, older than every fix), btrfs dedupe is refused with exit 2 and nothing
// changes; --allow-buggy-kernel overrides; --dry-run and XFS are never refused.
TEST_P(CliOnFs, KernelWithKnownBtrfsBugs) {
    const auto setarch = find_program("setarch");
    if (!setarch) GTEST_SKIP() << "setarch (util-linux) not found";
    make_data();
    const auto old_kernel = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {*setarch, "--uname-2.6", RDD_BINARY});
        return run_process(args);
    };
    const std::string a = path("d/a").string(), b = path("d/b").string();
    const ProcessResult dry = old_kernel({"dedup-files", "--dry-run", a, b});
    EXPECT_EQ(dry.exit_code, 0) << dry.err;
    const ProcessResult refused = old_kernel({"dedup-files", a, b});
    if (GetParam() == FsKind::Xfs) {
        EXPECT_EQ(refused.exit_code, 0) << refused.err;
        EXPECT_EQ(bytes_shared_with(path("d/a"), path("d/b")), kMiB);
        return;
    }
    EXPECT_EQ(refused.exit_code, 2) << refused.err;
    EXPECT_NE(refused.err.find("refusing to dedupe on btrfs: kernel 2.6."), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("--allow-buggy-kernel"), std::string::npos) << refused.err;
    EXPECT_EQ(refused.err.find('\n'), refused.err.size() - 1) << refused.err;  // one line
    EXPECT_EQ(bytes_shared_with(path("d/a"), path("d/b")), 0u);
    const ProcessResult vol = old_kernel({"dedup-vol", "--db", db(), path("d").string()});
    EXPECT_EQ(vol.exit_code, 2) << vol.err;
    EXPECT_EQ(bytes_shared_with(path("d/a"), path("d/b")), 0u);

    const ProcessResult allowed = old_kernel({"dedup-files", "--allow-buggy-kernel", a, b});
    EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
    EXPECT_NE(allowed.err.find("deduping anyway"), std::string::npos) << allowed.err;
    EXPECT_EQ(bytes_shared_with(path("d/a"), path("d/b")), kMiB);
}

// The systemd unit's CapabilityBoundingSet is enough for the work: run dedup-vol as root
// with exactly those capabilities (setpriv --bounding-set) on files of another user (mode
// 0600 in a 0700 directory) while a process of that user writes one of them. The scan must
// read them, --lock=immutable must freeze, check /proc (and find the writer of the other
// user) and restore flags, the default lease lock must take leases, and the rest must be
// shared. (Dropping any one of the six capabilities from the unit makes this test fail.)
TEST_P(CliOnFs, ServiceCapabilitiesSuffice) {
    const auto setpriv = find_program("setpriv");
    if (!setpriv) GTEST_SKIP() << "setpriv (util-linux) not found";
    std::ifstream unit(RDD_UNIT_TEMPLATE);
    std::string line, caps;
    while (std::getline(unit, line)) {
        if (line.rfind("CapabilityBoundingSet=", 0) == 0) caps = line.substr(22);
    }
    ASSERT_FALSE(caps.empty());
    std::string bounding = "-all";
    std::istringstream names(caps);
    for (std::string cap; names >> cap;) {
        for (char& c : cap) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        bounding += ",+" + cap.substr(4);  // "cap_sys_admin" -> "+sys_admin"
    }

    constexpr unsigned kUid = 4321;
    const fs::path home = path("home");
    fs::create_directories(home);
    write_random_file(home / "a", kMiB, 1);
    write_random_file(home / "b", kMiB, 1);
    write_random_file(home / "w", kMiB, 1);  // written by its owner during the run
    for (const char* f : {"a", "b", "w"}) {
        ASSERT_EQ(::chown((home / f).c_str(), kUid, kUid), 0);
        ASSERT_EQ(::chmod((home / f).c_str(), 0600), 0);
    }
    ASSERT_EQ(::chown(home.c_str(), kUid, kUid), 0);
    ASSERT_EQ(::chmod(home.c_str(), 0700), 0);
    fs().sync();
    const auto before_a = snapshot_metadata(home / "a");

    // Root opens the file for writing (the user could not reach it through the test's 0700
    // temp dir), then the process becomes the user and keeps the descriptor.
    Spawned writer({"/bin/sh", "-c", "exec 3>>\"$0\"; echo ready; exec \"$1\" --reuid=4321 --regid=4321 --clear-groups sleep 100000",
                    (home / "w").string(), *setpriv},
                   fs().temp_dir() / "writer.out", fs().temp_dir() / "writer.err");
    for (;;) {  // until the writer runs as the user (ctest's timeout bounds this)
        ASSERT_TRUE(writer.running()) << "the writer ended";
        std::ifstream status("/proc/" + std::to_string(writer.pid()) + "/status");
        std::string l;
        bool as_user = false;
        while (std::getline(status, l)) as_user = as_user || (l.rfind("Uid:", 0) == 0 && l.find("4321") != std::string::npos);
        if (as_user) break;
        ::usleep(2000);
    }

    const ProcessResult r = run_process({*setpriv, "--bounding-set", bounding, "--", RDD_BINARY, "dedup-vol", "--json",
                                         "--lock", "immutable", "--db", db(), "--state-dir",
                                         (fs().temp_dir() / "state").string(), home.string()});
    EXPECT_EQ(r.exit_code, 1) << bounding << "\n" << r.out << r.err;  // w was left alone
    const auto j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.out << r.err;
    EXPECT_EQ(j["scan"]["files_hashed"], 3) << r.out;  // read 0600 files of another user
    EXPECT_EQ(j["scan"]["error_count"], 0) << r.out;
    ASSERT_EQ(j["skipped_count"], 1) << r.out;
    EXPECT_EQ(j["skipped"][0]["path"].get<std::string>().find("/w"), j["skipped"][0]["path"].get<std::string>().size() - 2)
        << r.out;
    // The /proc check named the other user's writer.
    EXPECT_NE(j["skipped"][0]["reason"].get<std::string>().find("pid " + std::to_string(writer.pid())), std::string::npos)
        << r.out;
    EXPECT_EQ(bytes_shared_with(home / "a", home / "b"), kMiB);
    EXPECT_EQ(bytes_shared_with(home / "a", home / "w"), 0u);
    EXPECT_EQ(snapshot_metadata(home / "a").inode_flags, before_a.inode_flags);  // thawed
    EXPECT_EQ(snapshot_metadata(home / "w").inode_flags, before_a.inode_flags);

    // The default lock, read leases, on files of another user (CAP_LEASE).
    for (const char* f : {"c", "d"}) {
        write_random_file(home / f, kMiB, 5);
        ASSERT_EQ(::chown((home / f).c_str(), kUid, kUid), 0);
        ASSERT_EQ(::chmod((home / f).c_str(), 0600), 0);
    }
    fs().sync();
    const ProcessResult lease = run_process({*setpriv, "--bounding-set", bounding, "--", RDD_BINARY, "dedup-vol",
                                             "--db", db(), home.string()});
    EXPECT_EQ(lease.exit_code, 1) << lease.out << lease.err;  // w is still being written
    EXPECT_EQ(bytes_shared_with(home / "c", home / "d"), kMiB) << lease.out << lease.err;
    EXPECT_EQ(bytes_shared_with(home / "a", home / "w"), 0u);
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(CliOnFs);

}  // namespace
}  // namespace rdd::test
