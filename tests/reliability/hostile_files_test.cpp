// Hostile files: symlink loops and symlinks out of the volume (never followed), FIFOs, devices
// and sockets (never opened, never block), a 1 TiB sparse file (holes never read), data past
// the 4 GiB offset (found and shared), empty files, and one inode with hundreds of names.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>

#include "hostile_input_support.hpp"
#include "reflinkdedup/util/unique_fd.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::test::hostile {
namespace {

constexpr std::uint64_t kSize = 256 * kKiB;

class HostileFiles : public LoopFsTest {
protected:
    std::string db() { return (fs().temp_dir() / "catalog.sqlite").string(); }
    CliRun tool(std::vector<std::string> args) {
        args.insert(args.begin() + 1, {"--db", db()});
        return run_limited(args);
    }
    // sha + metadata of each path, to compare after the runs.
    void remember(const std::vector<fs::path>& paths) {
        for (const fs::path& p : paths) {
            sums_[p] = sha256_file(p);
            meta_[p] = snapshot_metadata(p);
        }
    }
    void expect_unchanged() {
        for (const auto& [p, sum] : sums_) {
            EXPECT_EQ(sha256_file(p), sum) << p;
            EXPECT_EQ(describe_differences(snapshot_metadata(p), meta_[p]), "") << p;
        }
    }
    std::uint64_t skipped(const CliRun& scan, const std::string& reason_part) {
        std::uint64_t n = 0;
        for (const auto& [reason, count] : scan.json["skipped"].items()) {
            if (reason.find(reason_part) != std::string::npos) n += count.get<std::uint64_t>();
        }
        return n;
    }

    std::map<fs::path, std::string> sums_;
    std::map<fs::path, MetadataSnapshot> meta_;
};

// vol/a and vol/b are duplicates; out/x, a third copy outside the volume, is reachable only
// through symlinks (absolute, relative, through a linked directory) and must stay unshared
// and unread; loops of every shape must end the walk.
TEST_P(HostileFiles, SymlinksOutOfTheVolumeAndLoopsAreNeverFollowed) {
    fs::create_directories(path("vol/sub"));
    fs::create_directories(path("out"));
    write_random_file(path("vol/a"), kSize, 1);
    write_random_file(path("vol/b"), kSize, 1);
    write_random_file(path("out/x"), kSize, 1);
    fs::create_symlink(path("out/x"), path("vol/abs"));
    fs::create_symlink("../out/x", path("vol/rel"));
    fs::create_directory_symlink("../../out", path("vol/sub/outdir"));
    fs::create_directory_symlink(".", path("vol/loop"));
    fs::create_directory_symlink("..", path("vol/sub/up"));
    fs::create_symlink("l2", path("vol/l1"));
    fs::create_symlink("l1", path("vol/l2"));
    fs::create_symlink("self", path("vol/self"));
    fs().sync();
    const auto x_extents = fiemap_extents(path("out/x"));
    remember({path("vol/a"), path("vol/b"), path("out/x")});

    const CliRun scan = tool({"scan-vol", "--json", path("vol")});
    ASSERT_EQ(scan.process.exit_code, 0) << describe(scan);
    EXPECT_EQ(scan.json["files_hashed"], 2) << scan.process.out;
    EXPECT_EQ(scan.json["files_seen"], 2) << scan.process.out;  // a symlink is no file
    EXPECT_EQ(scan.json["bytes_read"], 2 * kSize) << scan.process.out;  // out/x never read
    EXPECT_EQ(scan.json["error_count"], 0) << scan.process.out;

    const CliRun run = tool({"dedup-vol", "--json", path("vol")});
    ASSERT_EQ(run.process.exit_code, 0) << describe(run);
    EXPECT_EQ(bytes_shared_with(path("vol/a"), path("vol/b")), kSize);
    EXPECT_EQ(bytes_shared_with(path("vol/a"), path("out/x")), 0u);
    EXPECT_EQ(fiemap_extents(path("out/x")), x_extents);

    // dedup-files: a symlink SOURCE is refused, a symlink destination skipped; out/x untouched.
    expect_refused(run_limited({"dedup-files", path("vol/rel"), path("vol/a")}), path("vol/rel").string());
    const CliRun files = run_limited({"dedup-files", "--json", path("vol/a"), path("vol/abs"), path("vol/l1")});
    EXPECT_EQ(files.process.exit_code, 1) << describe(files);
    EXPECT_EQ(files.json["skipped"].size(), 2u) << files.process.out;
    EXPECT_EQ(fiemap_extents(path("out/x")), x_extents);
    expect_unchanged();
}

// A FIFO nobody writes (opening it would block), /dev/zero's and the test's own loop device's
// numbers (reading would never end / read the whole image), and a bound socket.
TEST_P(HostileFiles, FifosDevicesAndSocketsAreNeverOpened) {
    fs::create_directories(path("vol"));
    write_random_file(path("vol/a"), kSize, 2);
    write_random_file(path("vol/b"), kSize, 2);
    ASSERT_EQ(::mkfifo(path("vol/fifo").c_str(), 0666), 0);
    ASSERT_EQ(::mknod(path("vol/zero").c_str(), S_IFCHR | 0666, makedev(1, 5)), 0);
    struct stat dev {};
    ASSERT_EQ(::stat(fs().device().c_str(), &dev), 0);
    ASSERT_EQ(::mknod(path("vol/disk").c_str(), S_IFBLK | 0600, dev.st_rdev), 0);
    const UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));  // closed before the unmount
    ASSERT_TRUE(sock);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string sock_path = path("vol/sock").string();
    ASSERT_LT(sock_path.size(), sizeof addr.sun_path);
    std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size() + 1);
    ASSERT_EQ(::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    fs().sync();
    remember({path("vol/a"), path("vol/b")});
    std::map<std::string, MetadataSnapshot> special_meta;  // no sha: reading them is the bug
    for (const char* s : {"vol/fifo", "vol/zero", "vol/disk", "vol/sock"}) special_meta[s] = snapshot_metadata(path(s));

    const CliRun scan = tool({"scan-vol", "--json", path("vol")});
    ASSERT_EQ(scan.process.exit_code, 0) << describe(scan);
    EXPECT_EQ(scan.json["files_hashed"], 2) << scan.process.out;
    EXPECT_EQ(scan.json["bytes_read"], 2 * kSize) << scan.process.out;
    EXPECT_EQ(skipped(scan, "special"), 4u) << scan.process.out;
    const CliRun run = tool({"dedup-vol", "--json", path("vol")});
    ASSERT_EQ(run.process.exit_code, 0) << describe(run);
    EXPECT_EQ(bytes_shared_with(path("vol/a"), path("vol/b")), kSize);

    // dedup-files: each special destination skipped with a reason; as SOURCE refused.
    const CliRun files = run_limited({"dedup-files", "--json", path("vol/a"), path("vol/zero"), path("vol/disk"),
                                      path("vol/sock"), path("vol/fifo")});
    EXPECT_EQ(files.process.exit_code, 1) << describe(files);
    ASSERT_EQ(files.json["skipped"].size(), 4u) << files.process.out;
    for (const auto& s : files.json["skipped"]) EXPECT_FALSE(s["reason"].get<std::string>().empty());
    for (const char* special : {"vol/fifo", "vol/zero", "vol/disk", "vol/sock"}) {
        expect_refused(run_limited({"dedup-files", path(special), path("vol/a")}, 20), path(special).string());
    }
    expect_unchanged();
    for (const auto& [s, m] : special_meta) EXPECT_EQ(describe_differences(snapshot_metadata(path(s)), m), "") << s;
}

// Two 1 TiB files with 3 MiB of identical data at 0, 512 GiB and 1 TiB - 1 MiB, and a 1 MiB
// copy of the middle piece: only data is read, everything is shared, the holes stay holes.
TEST_P(HostileFiles, TerabyteSparseFilesAreReadOnlyWhereThereIsData) {
    constexpr std::uint64_t kTiB = 1024 * kGiB;
    const std::vector<Piece> pieces{{0, kMiB, 31}, {512 * kGiB, kMiB, 32}, {kTiB - kMiB, kMiB, 33}};
    fs::create_directories(path("vol"));
    write_sparse(path("vol/big1"), kTiB, pieces);
    write_sparse(path("vol/big2"), kTiB, pieces);
    write_random_file(path("vol/small"), kMiB, 32);
    fs().sync();

    const CliRun scan = tool({"scan-vol", "--json", path("vol")});
    ASSERT_EQ(scan.process.exit_code, 0) << describe(scan);
    EXPECT_EQ(scan.json["files_hashed"], 3) << scan.process.out;
    EXPECT_EQ(scan.json["bytes_read"], 7 * kMiB) << scan.process.out;  // the data, no hole

    const CliRun run = tool({"dedup-vol", "--json", path("vol")});
    ASSERT_EQ(run.process.exit_code, 0) << describe(run);
    const auto b1 = fiemap_extents(path("vol/big1")), b2 = fiemap_extents(path("vol/big2"));
    for (const Piece& p : pieces) EXPECT_EQ(shared_at(b1, p.offset, b2, p.offset, p.length), p.length) << p.offset;
    EXPECT_EQ(shared_at(fiemap_extents(path("vol/small")), 0, b1, 512 * kGiB, kMiB), kMiB);

    for (const char* f : {"vol/big1", "vol/big2"}) {
        expect_sparse_content(path(f), kTiB, pieces);
        struct stat st {};
        ASSERT_EQ(::stat(path(f).c_str(), &st), 0);
        EXPECT_LE(static_cast<std::uint64_t>(st.st_blocks) * 512, 8 * kMiB) << f << ": holes were filled";
    }
}

// dedup-files over two 1 TiB sparse files at the same offsets: it skips the windows that are
// holes in both (SEEK_DATA) and compares only the three that hold data.
TEST_P(HostileFiles, DedupFilesComparesOnlyTheDataOfSparseFiles) {
    constexpr std::uint64_t kTiB = 1024 * kGiB;
    const std::vector<Piece> pieces{{0, kMiB, 34}, {512 * kGiB, kMiB, 35}, {kTiB - kMiB, kMiB, 36}};
    write_sparse(path("s1"), kTiB, pieces);
    write_sparse(path("s2"), kTiB, pieces);
    fs().sync();
    const CliRun files = run_limited({"dedup-files", "--json", path("s1"), path("s2")});
    ASSERT_EQ(files.process.exit_code, 0) << describe(files);
    EXPECT_LE(files.json["bytes_compared"].get<std::uint64_t>(), 3 * 16 * kMiB) << files.process.out;
    EXPECT_EQ(files.json["bytes_shared"], 3 * kMiB) << files.process.out;
    const auto e1 = fiemap_extents(path("s1")), e2 = fiemap_extents(path("s2"));
    for (const Piece& p : pieces) EXPECT_EQ(shared_at(e1, p.offset, e2, p.offset, p.length), p.length) << p.offset;
    expect_sparse_content(path("s1"), kTiB, pieces);
    expect_sparse_content(path("s2"), kTiB, pieces);
}

// Data past 2^32 bytes: a 1 MiB piece at 4 GiB + 64 KiB in one file, at 5 GiB in another,
// and as a plain 1 MiB file; every offset arithmetic above 32 bits must hold.
TEST_P(HostileFiles, DuplicatesBeyondTheFourGiBOffsetAreShared) {
    const std::vector<Piece> f_pieces{{0, kMiB, 41}, {4 * kGiB + 64 * kKiB, kMiB, 42}};
    const std::vector<Piece> g_pieces{{5 * kGiB, kMiB, 42}};
    fs::create_directories(path("vol"));
    write_sparse(path("vol/f"), 5 * kGiB, f_pieces);
    write_sparse(path("vol/f-copy"), 5 * kGiB, f_pieces);
    write_sparse(path("vol/g"), 6 * kGiB, g_pieces);
    write_random_file(path("vol/h"), kMiB, 42);
    fs().sync();

    const CliRun files = run_limited({"dedup-files", "--json", path("vol/f"), path("vol/f-copy")});
    ASSERT_EQ(files.process.exit_code, 0) << describe(files);
    EXPECT_EQ(files.json["bytes_shared"], 2 * kMiB) << files.process.out;
    const auto f = fiemap_extents(path("vol/f"));
    EXPECT_EQ(shared_at(f, f_pieces[1].offset, fiemap_extents(path("vol/f-copy")), f_pieces[1].offset, kMiB), kMiB);

    const CliRun run = tool({"dedup-vol", "--json", path("vol")});
    ASSERT_EQ(run.process.exit_code, 0) << describe(run);
    EXPECT_EQ(run.json["scan"]["error_count"], 0) << run.process.out;
    const auto f_after = fiemap_extents(path("vol/f")), g = fiemap_extents(path("vol/g"));
    EXPECT_EQ(shared_at(f_after, 4 * kGiB + 64 * kKiB, g, 5 * kGiB, kMiB), kMiB);
    EXPECT_EQ(shared_at(f_after, 4 * kGiB + 64 * kKiB, fiemap_extents(path("vol/h")), 0, kMiB), kMiB);
    expect_sparse_content(path("vol/f"), 5 * kGiB, f_pieces);
    expect_sparse_content(path("vol/f-copy"), 5 * kGiB, f_pieces);
    expect_sparse_content(path("vol/g"), 6 * kGiB, g_pieces);
}

// Empty files are neither a source nor a destination and never an error.
TEST_P(HostileFiles, EmptyFilesAreLeftAloneWithoutErrors) {
    fs::create_directories(path("vol"));
    std::vector<fs::path> empties;
    for (int i = 0; i < 20; ++i) {
        empties.push_back(path("vol/empty" + std::to_string(i)));
        std::ofstream(empties.back()).flush();
    }
    write_random_file(path("vol/a"), kSize, 5);
    write_random_file(path("vol/b"), kSize, 5);
    fs().sync();
    remember(empties);
    remember({path("vol/a"), path("vol/b")});

    const CliRun run = tool({"dedup-vol", "--json", path("vol")});
    ASSERT_EQ(run.process.exit_code, 0) << describe(run);
    EXPECT_EQ(run.json["scan"]["files_seen"], 22) << run.process.out;
    EXPECT_EQ(run.json["scan"]["files_hashed"], 2) << run.process.out;
    EXPECT_EQ(bytes_shared_with(path("vol/a"), path("vol/b")), kSize);

    const CliRun both_empty = run_limited({"dedup-files", "--json", empties[0], empties[1], empties[2]});
    EXPECT_EQ(both_empty.process.exit_code, 0) << describe(both_empty);
    EXPECT_EQ(both_empty.json["dedupe_calls"], 0) << both_empty.process.out;
    const CliRun empty_dst = run_limited({"dedup-files", "--json", path("vol/a"), empties[3]});
    EXPECT_EQ(empty_dst.process.exit_code, 0) << describe(empty_dst);
    EXPECT_EQ(empty_dst.json["dedupe_calls"], 0) << empty_dst.process.out;
    const CliRun empty_src = run_limited({"dedup-files", "--json", empties[4], path("vol/a")});
    EXPECT_EQ(empty_src.process.exit_code, 0) << describe(empty_src);
    EXPECT_EQ(empty_src.json["dedupe_calls"], 0) << empty_src.process.out;
    expect_unchanged();
}

// One inode with 400 names and a duplicate of it: one catalog file, read once, shared once;
// dedup-files given all the names shares the inode once and lists the other names.
TEST_P(HostileFiles, HundredsOfHardLinksAreOneFile) {
    constexpr int kLinks = 400;
    fs::create_directories(path("vol/links"));
    write_random_file(path("vol/a"), kSize, 6);
    write_random_file(path("vol/b"), kSize, 6);
    for (int i = 0; i < kLinks; ++i) {
        ASSERT_EQ(::link(path("vol/a").c_str(), path("vol/links/l" + std::to_string(i)).c_str()), 0);
    }
    fs().sync();
    remember({path("vol/a"), path("vol/b")});

    const CliRun scan = tool({"scan-vol", "--json", path("vol")});
    ASSERT_EQ(scan.process.exit_code, 0) << describe(scan);
    EXPECT_EQ(scan.json["files_hashed"], 2) << scan.process.out;
    EXPECT_EQ(scan.json["bytes_read"], 2 * kSize) << scan.process.out;
    const CliRun report = tool({"report", "--json"});
    EXPECT_EQ(report.json["total"]["files"], 2) << report.process.out;
    EXPECT_EQ(report.json["total"]["duplicate_bytes"], kSize) << report.process.out;

    std::vector<std::string> args{"dedup-files", "--json", "--dry-run", path("vol/b")};
    for (int i = 0; i < kLinks; ++i) args.push_back(path("vol/links/l" + std::to_string(i)));
    const CliRun files = run_limited(args);
    EXPECT_EQ(files.process.exit_code, 1) << describe(files);
    EXPECT_EQ(files.json["skipped"].size(), kLinks - 1u) << files.process.out.substr(0, 2000);
    EXPECT_EQ(files.json["bytes_dedupable"], kSize) << files.process.out.substr(0, 2000);

    const CliRun run = tool({"dedup-vol", "--json", path("vol")});
    ASSERT_EQ(run.process.exit_code, 0) << describe(run);
    EXPECT_EQ(run.json["bytes_shared"], kSize) << run.process.out;
    EXPECT_EQ(bytes_shared_with(path("vol/a"), path("vol/b")), kSize);
    EXPECT_EQ(bytes_shared_with(path("vol/links/l399"), path("vol/b")), kSize);
    expect_unchanged();  // nlink stays 401
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(HostileFiles);

}  // namespace
}  // namespace rdd::test::hostile
