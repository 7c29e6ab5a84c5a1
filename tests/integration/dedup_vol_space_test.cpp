// dedup-vol gives space back on btrfs as on XFS: partly shared btrfs extents ("bookend": a grown
// log whose old prefix and new tail were written as one extent, a file edited in place, data
// moved by whole blocks) have their rest moved to a new extent so the old one is freed whole;
// read-only snapshots are never modified and what they keep allocated is reported; the dry run
// predicts the space freed; --max-runtime stops between files and the next run goes on; a move
// that finds no room is skipped and done later; nothing is left behind by a killed run.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "cli_runner.hpp"
#include "support/file_checks.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::test {
namespace {

namespace fs = std::filesystem;
constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;

// Content and metadata of every regular file below a directory, and the names there (a run
// must leave no temporary file behind).
struct TreeState {
    std::map<std::string, std::pair<std::string, MetadataSnapshot>> files;
    std::set<std::string> names;
};

TreeState tree_state(const fs::path& root, bool content = true) {
    TreeState t;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        const std::string rel = fs::relative(e.path(), root).string();
        t.names.insert(rel);
        if (e.is_regular_file()) t.files[rel] = {content ? sha256_file(e.path()) : "", snapshot_metadata(e.path())};
    }
    return t;
}

TreeState tree_state_without_content(const fs::path& root) { return tree_state(root, false); }

void expect_same_tree(const TreeState& before, const fs::path& root) {
    const TreeState now = tree_state(root);
    EXPECT_EQ(now.names, before.names) << "files appeared or vanished under " << root;
    for (const auto& [rel, state] : before.files) {
        const auto it = now.files.find(rel);
        ASSERT_NE(it, now.files.end()) << rel;
        EXPECT_EQ(it->second.first, state.first) << rel << ": content changed";
        EXPECT_EQ(it->second.second, state.second)
            << rel << ": " << describe_differences(state.second, it->second.second);
    }
}

using Placement = std::vector<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>>;
Placement placement(const fs::path& file) {
    Placement out;
    for (const PhysExtent& e : fiemap_extents(file)) out.emplace_back(e.logical, e.physical, e.length);
    return out;
}

// Writes files on one filesystem from random sources kept outside it, each file in one stream
// (`cat a b | cat > f`: never a reflink, and one extent per file where the fs allows).
class DataWriter {
public:
    explicit DataWriter(const fs::path& sources) : sources_(sources) {}

    // A random source (same name and size: same bytes, on every filesystem of the test).
    fs::path source(const std::string& name, std::uint64_t bytes, std::uint64_t seed) {
        const fs::path p = sources_ / name;
        if (!fs::exists(p)) write_random_file(p, bytes, seed);
        return p;
    }

    // `bytes` zeros (written, not a hole, when copied by write()).
    fs::path zeros(const std::string& name, std::uint64_t bytes) {
        const fs::path p = sources_ / name;
        if (!fs::exists(p)) run_checked({"sh", "-c", "head -c " + std::to_string(bytes) + " /dev/zero > '" + p.string() + "'"});
        return p;
    }

    static void write(const fs::path& to, const std::vector<fs::path>& parts) {
        std::string cmd = "cat";
        for (const auto& p : parts) cmd += " '" + p.string() + "'";
        fs::create_directories(to.parent_path());
        run_checked({"sh", "-c", cmd + " | cat > '" + to.string() + "'"});
    }

    // `from` with `blocks` 64 KiB pieces at these block numbers replaced by random bytes.
    fs::path edited(const std::string& name, const fs::path& from, const std::vector<std::uint64_t>& blocks) {
        const fs::path p = sources_ / name;
        if (fs::exists(p)) return p;
        run_checked({"cp", "--reflink=never", from.string(), p.string()});
        for (const std::uint64_t b : blocks) {
            const fs::path patch = source(name + ".patch" + std::to_string(b), 64 * kKiB, 1000 + b);
            run_checked({"dd", "if=" + patch.string(), "of=" + p.string(), "bs=65536", "seek=" + std::to_string(b),
                         "conv=notrunc", "status=none"});
        }
        return p;
    }

private:
    fs::path sources_;
};

// Backup-like data on `root`: whole-file copies, a log growing over three days, a database
// edited in place, data moved by two blocks, a disk image with written zeros. Returns the bytes
// an exact block-level dedupe (64 KiB blocks, zeros made holes) gives back.
std::uint64_t write_mixed_dataset(DataWriter& w, const fs::path& root) {
    const fs::path img = w.source("img", 12 * kMiB, 1);
    const fs::path log_a = w.source("log-a", 10 * kMiB, 2), log_b = w.source("log-b", 3 * kMiB, 3),
                   log_c = w.source("log-c", 4 * kMiB + 5000, 4);
    const fs::path db1 = w.source("db1", 16 * kMiB, 5);
    const fs::path db2 = w.edited("db2", db1, {1, 70, 200});
    const fs::path prefix = w.source("prefix", 128 * kKiB, 6);
    DataWriter::write(root / "m1/img", {img});
    DataWriter::write(root / "m2/img-renamed", {img});
    DataWriter::write(root / "m2/moved", {prefix, img});
    DataWriter::write(root / "day1/log", {log_a});
    DataWriter::write(root / "day2/log", {log_a, log_b});
    DataWriter::write(root / "day3/log", {log_a, log_b, log_c});
    DataWriter::write(root / "day1/db", {db1});
    DataWriter::write(root / "day2/db", {db2});
    DataWriter::write(root / "vm.img", {w.source("vm-a", 2 * kMiB, 7), w.zeros("zeros", 6 * kMiB),
                                        w.source("vm-b", 2 * kMiB, 8)});
    return 12 * kMiB + 12 * kMiB + 10 * kMiB + 13 * kMiB + (16 * kMiB - 3 * 64 * kKiB) + 6 * kMiB;
}

class DedupVolSpace : public LoopFsTest {
protected:
    LoopFsOptions loop_fs_options() const override {
        LoopFsOptions o;
        o.image_bytes = std::uint64_t{2} << 30;
        return o;
    }
    std::string db() { return (fs().temp_dir() / "catalog.sqlite").string(); }
    CliRun run(const std::vector<std::string>& roots, std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"dedup-vol", "--json", "--db", db(), "--state-dir",
                                      (fs().temp_dir() / "state").string()};
        args.insert(args.end(), extra.begin(), extra.end());
        args.insert(args.end(), roots.begin(), roots.end());
        return run_reflinkdedup(args);
    }
    CliRun run(const fs::path& root, std::vector<std::string> extra = {}) {
        return run(std::vector<std::string>{root.string()}, std::move(extra));
    }
    DataWriter writer() {
        fs::create_directories(fs().temp_dir() / "sources");
        return DataWriter(fs().temp_dir() / "sources");
    }
    void expect_converged(const fs::path& root) {
        const CliRun again = run(root);
        ASSERT_EQ(again.process.exit_code, 0) << describe(again);
        EXPECT_EQ(again.json["dedupe_calls"], 0);
        EXPECT_EQ(again.json["scan"]["bytes_read"], 0);
        EXPECT_EQ(again.json["bytes_read"], 0);
        EXPECT_EQ(again.json["bytes_moved"], 0);
    }
};

TEST_P(DedupVolSpace, DryRunPredictsWhatTheRealRunFrees) {
    DataWriter w = writer();
    const std::uint64_t exact = write_mixed_dataset(w, path("data"));
    fs().sync();
    std::map<std::string, Placement> layout;
    for (const auto& e : fs::recursive_directory_iterator(path("data"))) {
        if (e.is_regular_file()) layout[e.path().string()] = placement(e.path());
    }
    const TreeState before = tree_state(path("data"));

    const CliRun dry = run(path("data"), {"--dry-run"});
    ASSERT_EQ(dry.process.exit_code, 0) << describe(dry);
    for (const auto& [file, where] : layout) EXPECT_EQ(placement(file), where) << file << " moved in a dry run";
    const auto expected = dry.json["bytes_freed_expected"].get<std::uint64_t>();
    EXPECT_EQ(dry.json["plan"].size(), dry.json["jobs"].get<std::size_t>());
    if (GetParam() == FsKind::Btrfs) {
        EXPECT_GE(dry.json["extents_moved"], 3);  // logs, db, moved
    }

    const std::uint64_t free_before = fs().free_bytes();
    const CliRun r = run(path("data"));
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    const std::uint64_t freed = fs().free_bytes() - free_before;
    const auto reported = r.json["bytes_freed"].get<std::int64_t>();
    EXPECT_LE(std::llabs(reported - static_cast<std::int64_t>(freed)), static_cast<std::int64_t>(freed / 50))
        << "reported " << reported << ", measured " << freed;
    // The prediction within 5% of what was freed, which is close to the exact maximum.
    EXPECT_LE(std::fabs(static_cast<double>(expected) - static_cast<double>(freed)), 0.05 * static_cast<double>(freed))
        << "predicted " << expected << ", freed " << freed;
    EXPECT_GE(freed, exact * 97 / 100) << "exact maximum " << exact;
    expect_same_tree(before, path("data"));
    expect_converged(path("data"));
}

// --max-runtime: with a budget that is spent before the first file, every run shares one file
// (the one that frees most first), says so (exit 1), and the next run goes on.
TEST_P(DedupVolSpace, MaxRuntimeStopsBetweenFilesAndTheNextRunGoesOn) {
    DataWriter w = writer();
    write_mixed_dataset(w, path("data"));
    fs().sync();
    const TreeState before = tree_state(path("data"));
    ASSERT_EQ(run_reflinkdedup({"scan-vol", "--db", db(), path("data")}).process.exit_code, 0);

    const CliRun plan = run(path("data"), {"--dry-run"});
    ASSERT_EQ(plan.process.exit_code, 0) << describe(plan);
    const auto jobs = plan.json["jobs"].get<std::size_t>();
    ASSERT_GE(jobs, 4u);
    const std::string largest = plan.json["plan"][0]["path"];
    std::uint64_t total_freed = 0;
    std::size_t runs = 0;
    for (; runs < jobs + 1; ++runs) {
        const CliRun r = run(path("data"), {"--max-runtime", "1ms"});
        ASSERT_TRUE(r.process.exit_code == 0 || r.process.exit_code == 1) << describe(r);
        total_freed += r.json["bytes_freed"].get<std::uint64_t>();
        if (runs == 0) {
            EXPECT_EQ(r.process.exit_code, 1);
            EXPECT_TRUE(r.json["time_budget_reached"].get<bool>());
            EXPECT_EQ(r.json["jobs_done"], 1);
            EXPECT_EQ(r.json["jobs_left"], jobs - 1);
            // The file that frees most went first: it shares everything it can now.
            const CliRun check = run(path("data"), {"--dry-run"});
            for (const auto& j : check.json["plan"]) EXPECT_NE(j["path"], largest);
        }
        if (r.process.exit_code == 0) {
            EXPECT_FALSE(r.json["time_budget_reached"].get<bool>());
            break;
        }
        EXPECT_EQ(r.json["skipped_count"], 0) << describe(r);
    }
    EXPECT_LT(runs, jobs) << "one file per run at least";
    EXPECT_GE(total_freed, plan.json["bytes_freed_expected"].get<std::uint64_t>() * 95 / 100);
    expect_same_tree(before, path("data"));
    expect_converged(path("data"));
}

// Extents cut at 4 KiB boundaries inside a 64 KiB catalog block: once shared, such a block is
// recognized as shared piece by piece, and a second run leaves it alone.
TEST_P(DedupVolSpace, BlocksAcrossExtentBoundariesConverge) {
    DataWriter w = writer();
    const fs::path head = w.source("head", 68 * kKiB, 1), rest = w.source("rest", 3 * kMiB, 2);
    DataWriter::write(path("data/a"), {head});
    fs().sync();  // a's first extent ends at 68 KiB
    run_checked({"sh", "-c", "cat '" + rest.string() + "' | cat >> '" + path("data/a").string() + "'"});
    DataWriter::write(path("data/b"), {head, rest});
    fs().sync();
    const TreeState before = tree_state(path("data"));
    const CliRun r = run(path("data"));
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["bytes_shared"], 3 * kMiB + 68 * kKiB);
    EXPECT_EQ(bytes_shared_with(path("data/a"), path("data/b")), 3 * kMiB + 68 * kKiB);
    expect_same_tree(before, path("data"));
    expect_converged(path("data"));
}

// 4 KiB blocks, a small file edited in two blocks and copied again the next day: the copy
// shares everything, the edited file moves its two own blocks so its old extent is freed (the
// part of the last extent item beyond EOF is not data to move).
TEST_P(DedupVolSpace, EditedSmallFilesFreeWholeExtents) {
    DataWriter w = writer();
    const fs::path day3 = w.source("t", 12570, 1);
    const fs::path edited = fs().temp_dir() / "sources" / "s";
    run_checked({"cp", "--reflink=never", day3.string(), edited.string()});
    run_checked({"sh", "-c", "printf XX | dd of='" + edited.string() + "' bs=1 seek=100 conv=notrunc status=none && "
                             "printf YY | dd of='" + edited.string() + "' bs=1 seek=8300 conv=notrunc status=none"});
    DataWriter::write(path("data/d3/f"), {day3});
    DataWriter::write(path("data/d4/f"), {edited});
    DataWriter::write(path("data/d5/f"), {edited});
    fs().sync();
    const TreeState before = tree_state(path("data"));
    const std::uint64_t free_before = fs().free_bytes();
    const CliRun r = run(path("data"), {"--block-size=4K"});
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    EXPECT_EQ(r.json["bytes_freed_expected"], 24 * kKiB);
    EXPECT_GE(fs().free_bytes() - free_before, 24 * kKiB);
    expect_same_tree(before, path("data"));
    expect_converged(path("data"));
}

// All-zero blocks that take space (written zeros, a preallocated range) become holes (deduped
// from a hole): contents, mtime and ctime stay; --keep-zeros leaves them allocated.
TEST_P(DedupVolSpace, WrittenZerosBecomeHoles) {
    DataWriter w = writer();
    const fs::path head = w.source("head", kMiB, 1), zeros = w.zeros("zeros", 8 * kMiB);
    DataWriter::write(path("data/disk.img"), {head, zeros, head});
    DataWriter::write(path("data/tail-zeros"), {w.source("other", 3 * kMiB, 2), zeros, w.zeros("z100", 100)});
    DataWriter::write(path("data/prealloc"), {w.source("pre", kMiB, 3)});
    run_checked({"fallocate", "-o", std::to_string(kMiB), "-l", std::to_string(4 * kMiB), path("data/prealloc").string()});
    fs().sync();
    const TreeState before = tree_state(path("data"));
    auto allocated_in = [&](const fs::path& f, std::uint64_t from, std::uint64_t to) {
        std::uint64_t n = 0;
        for (const PhysExtent& e : fiemap_extents(f)) {
            n += std::max(from, std::min(to, e.logical + e.length)) - std::max(from, std::min(to, e.logical));
        }
        return n;
    };
    ASSERT_EQ(allocated_in(path("data/disk.img"), kMiB, 9 * kMiB), 8 * kMiB);

    const CliRun kept = run(path("data"), {"--keep-zeros"});
    ASSERT_EQ(kept.process.exit_code, 0) << describe(kept);
    EXPECT_EQ(kept.json["bytes_zero_holes"], 0);
    EXPECT_EQ(allocated_in(path("data/disk.img"), kMiB, 9 * kMiB), 8 * kMiB);

    const CliRun dry = run(path("data"), {"--dry-run"});
    const std::uint64_t free_before = fs().free_bytes();
    const CliRun r = run(path("data"));
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    const std::uint64_t freed = fs().free_bytes() - free_before;
    EXPECT_EQ(r.json["bytes_zero_holes"], 20 * kMiB + 100);
    EXPECT_EQ(allocated_in(path("data/prealloc"), kMiB, 5 * kMiB), 0u);
    EXPECT_EQ(allocated_in(path("data/disk.img"), kMiB, 9 * kMiB), 0u);
    EXPECT_EQ(allocated_in(path("data/tail-zeros"), 3 * kMiB, 11 * kMiB + 100), 0u);  // EOF block too
    EXPECT_GE(freed, 20 * kMiB);
    const auto expected = dry.json["bytes_freed_expected"].get<double>();
    EXPECT_LE(std::fabs(expected - static_cast<double>(freed)), 0.05 * static_cast<double>(freed));
    expect_same_tree(before, path("data"));
    expect_converged(path("data"));
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(DedupVolSpace);

// The same grown logs on btrfs and XFS, one test: btrfs must give back what XFS does.
TEST(DedupVolBtrfsVsXfs, GrownLogsFreeOnBtrfsWhatTheyFreeOnXfs) {
    RDD_REQUIRE_LOOP_FS(FsKind::Btrfs);
    RDD_REQUIRE_LOOP_FS(FsKind::Xfs);
    LoopFsOptions o;
    o.image_bytes = std::uint64_t{2} << 30;
    LoopFilesystem btrfs(FsKind::Btrfs, o), xfs(FsKind::Xfs, o);
    DataWriter w(btrfs.temp_dir());
    // Each day's log is the day before plus what was appended, written anew as one extent
    // (rsync writes a whole new copy). Tails end mid-block.
    const std::vector<fs::path> parts{w.source("a", 24 * kMiB, 1), w.source("b", 5 * kMiB + 300, 2),
                                      w.source("c", 7 * kMiB + 4100, 3), w.source("d", 2 * kMiB, 4)};
    std::map<FsKind, std::int64_t> freed;
    for (LoopFilesystem* f : {&btrfs, &xfs}) {
        for (std::size_t day = 1; day <= parts.size(); ++day) {
            DataWriter::write(f->path("day" + std::to_string(day) + "/app.log"),
                              std::vector<fs::path>(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(day)));
        }
        f->sync();
        const TreeState before = tree_state(f->mount_point());
        const std::string db = (f->temp_dir() / "catalog.sqlite").string();
        const std::vector<std::string> args{"dedup-vol", "--json", "--db", db, f->mount_point().string()};
        const std::uint64_t free_before = f->free_bytes();
        const CliRun r = run_reflinkdedup(args);
        ASSERT_EQ(r.process.exit_code, 0) << describe(r);
        freed[f->kind()] = static_cast<std::int64_t>(f->free_bytes() - free_before);
        EXPECT_EQ(r.json["skipped_count"], 0) << describe(r);
        if (f->kind() == FsKind::Btrfs) {
            EXPECT_GE(r.json["extents_moved"], 2) << describe(r);
        }
        expect_same_tree(before, f->mount_point());
        const CliRun again = run_reflinkdedup(args);
        ASSERT_EQ(again.process.exit_code, 0) << describe(again);
        EXPECT_EQ(again.json["dedupe_calls"], 0) << f->kind();
        EXPECT_EQ(again.json["scan"]["bytes_read"], 0) << f->kind();
        EXPECT_EQ(again.json["bytes_read"], 0) << f->kind();
        EXPECT_EQ(again.json["bytes_moved"], 0) << f->kind();
    }
    // Day k+1 repeats day k's full 64 KiB blocks: 24 + 29 + 36 MiB (tails end mid-block).
    const std::int64_t duplicate = (24 + 29 + 36) * static_cast<std::int64_t>(kMiB);
    EXPECT_GE(freed[FsKind::Xfs], duplicate * 97 / 100);
    EXPECT_GE(freed[FsKind::Btrfs], freed[FsKind::Xfs] * 95 / 100)
        << "btrfs freed " << freed[FsKind::Btrfs] << ", XFS " << freed[FsKind::Xfs];
}

class DedupVolSpaceBtrfs : public DedupVolSpace {};

// A read-only snapshot taken before dedup-vol keeps its extents allocated: its files are never
// modified, nothing is moved for extents it uses, and the space it holds is reported.
TEST_P(DedupVolSpaceBtrfs, ReadOnlySnapshotsAreNeverModifiedAndWhatTheyHoldIsReported) {
    run_checked({"btrfs", "-q", "subvolume", "create", path("vol").string()});
    DataWriter w = writer();
    const fs::path img = w.source("img", 8 * kMiB, 1), log_a = w.source("log-a", 12 * kMiB, 2),
                   log_b = w.source("log-b", 2 * kMiB, 3);
    DataWriter::write(path("vol/a"), {img});
    DataWriter::write(path("vol/b"), {img});
    DataWriter::write(path("vol/log.1"), {log_a});
    DataWriter::write(path("vol/log.2"), {log_a, log_b});
    fs().sync();
    run_checked({"btrfs", "-q", "subvolume", "snapshot", "-r", path("vol").string(), path("snap").string()});
    std::map<std::string, Placement> snap_layout;
    for (const char* f : {"a", "b", "log.1", "log.2"}) snap_layout[f] = placement(path("snap") / f);
    const TreeState vol_before = tree_state(path("vol")), snap_before = tree_state(path("snap"));

    const CliRun r = run(std::vector<std::string>{path("vol").string(), path("snap").string()});

    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    for (const auto& [f, where] : snap_layout) EXPECT_EQ(placement(path("snap") / f), where) << f;
    expect_same_tree(snap_before, path("snap"));
    expect_same_tree(vol_before, path("vol"));
    // vol/b now shares vol/a's extent, log.2 log.1's: but the snapshot still uses both old
    // extents, so nothing is freed and nothing is worth moving.
    EXPECT_EQ(bytes_shared_with(path("vol/a"), path("vol/b")), 8 * kMiB);
    EXPECT_EQ(r.json["bytes_moved"], 0);
    EXPECT_EQ(r.json["extents_moved"], 0);
    EXPECT_GE(r.json["bytes_held_by_snapshots"].get<std::uint64_t>(), 20 * kMiB);
    EXPECT_LE(r.json["bytes_freed"].get<std::int64_t>(), static_cast<std::int64_t>(kMiB));
    const CliRun again = run(std::vector<std::string>{path("vol").string(), path("snap").string()});
    EXPECT_EQ(again.json["dedupe_calls"], 0) << describe(again);
}

// No room for the copy of a tail: the move is skipped and reported, nothing changes, and once
// there is room the next run moves it and frees the old extent.
TEST_P(DedupVolSpaceBtrfs, NoRoomToMoveIsSkippedAndDoneByTheNextRun) {
    DataWriter w = writer();
    const fs::path old_part = w.source("old", 40 * kMiB, 1), tail = w.source("tail", 24 * kMiB, 2);
    DataWriter::write(path("data/day1/log"), {old_part});
    DataWriter::write(path("data/day2/log"), {old_part, tail});
    fs().sync();
    const TreeState before = tree_state(path("data"));
    // Leave 8 MiB: less than the 24 MiB tail.
    const std::uint64_t fill = fs::space(path("data")).available - 8 * kMiB;
    run_checked({"fallocate", "-l", std::to_string(fill), path("filler").string()});
    fs().sync();

    const CliRun full = run(path("data"));
    ASSERT_EQ(full.process.exit_code, 1) << describe(full);
    ASSERT_EQ(full.json["skipped"].size(), 1u) << describe(full);
    EXPECT_NE(full.json["skipped"][0]["reason"].get<std::string>().find("no room"), std::string::npos) << describe(full);
    EXPECT_EQ(full.json["extents_moved"], 0);
    expect_same_tree(before, path("data"));

    fs::remove(path("filler"));
    fs().sync();
    const std::uint64_t free_before = fs().free_bytes();
    const CliRun later = run(path("data"));
    ASSERT_EQ(later.process.exit_code, 0) << describe(later);
    EXPECT_EQ(later.json["extents_moved"], 1);
    EXPECT_GE(fs().free_bytes() - free_before, 39 * kMiB);
    expect_same_tree(before, path("data"));
    expect_converged(path("data"));
}

// SIGKILL at moments spread over runs that move tails: the temporary copies have no name, so
// nothing is left behind, no file changes, and a final run still frees everything.
TEST_P(DedupVolSpaceBtrfs, KilledRunsLeaveNothingBehind) {
    DataWriter w = writer();
    const fs::path a = w.source("a", 24 * kMiB, 1), b = w.source("b", 8 * kMiB, 2);
    for (int i = 0; i < 4; ++i) {
        DataWriter::write(path("data/old" + std::to_string(i)), {a});
        DataWriter::write(path("data/new" + std::to_string(i)), {a, b});
    }
    fs().sync();
    const TreeState before = tree_state(path("data"));
    const std::uint64_t free_start = fs().free_bytes();
    // Catalogued first, so that the killed runs spend their time sharing and moving.
    ASSERT_EQ(run_reflinkdedup({"scan-vol", "--db", db(), path("data")}).process.exit_code, 0);
    std::vector<std::string> argv{RDD_BINARY, "dedup-vol", "--db", db(), "--state-dir",
                                  (fs().temp_dir() / "state").string(), path("data").string()};
    std::vector<char*> cargv;
    for (auto& s : argv) cargv.push_back(s.data());
    cargv.push_back(nullptr);
    int killed = 0;
    for (int round = 0; round < 10; ++round) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            const int null = ::open("/dev/null", O_WRONLY);
            ::dup2(null, 1);
            ::dup2(null, 2);
            ::execv(cargv[0], cargv.data());
            ::_exit(127);
        }
        ::usleep(static_cast<useconds_t>(10000 + round * 50000));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) ++killed;
        // Names and metadata after each kill (contents once at the end: hashing is slow).
        const TreeState now = tree_state_without_content(path("data"));
        EXPECT_EQ(now.names, before.names) << "round " << round;
        for (const auto& [rel, state] : now.files) EXPECT_EQ(state.second, before.files.at(rel).second) << rel;
    }
    const CliRun r = run(path("data"));
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    expect_same_tree(before, path("data"));
    // 224 MiB written; what stays is one copy of `a` and one of `b`.
    EXPECT_GE(fs().free_bytes() - free_start, (224 - 32) * kMiB * 95 / 100) << "killed rounds: " << killed;
    expect_converged(path("data"));
}

INSTANTIATE_TEST_SUITE_P(, DedupVolSpaceBtrfs, ::testing::Values(FsKind::Btrfs), FsKindParamName{});

}  // namespace
}  // namespace rdd::test
