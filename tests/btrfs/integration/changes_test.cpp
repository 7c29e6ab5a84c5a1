// (b) The changed-inode search (INODE_ITEM.transid) finds every kind of change, including those
// `btrfs subvolume find-new` (extent generation) cannot see; and the full pass sees deletions.
#include <linux/fs.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "btrfs_fixture.hpp"
#include "reflinkdedup/btrfs/find_new.hpp"
#include "reflinkdedup/btrfs/inode_scan.hpp"
#include "support/file_checks.hpp"

namespace rdd::btrfs::test {
namespace {

class Changes : public BtrfsTest {
protected:
    void SetUp() override {
        BtrfsTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        sv_ = create_subvolume("sv");
    }

    // inode -> ChangedFile for everything changed after `gen` (library search).
    std::map<std::uint64_t, ChangedFile> changed_after(std::uint64_t gen) {
        const UniqueFd fd = open_dir(sv_);
        std::map<std::uint64_t, ChangedFile> by_ino;
        for (auto& c : changes_since(fd.get(), gen, sv_)) by_ino.emplace(c.inode.ino, std::move(c));
        return by_ino;
    }

    // Names btrfs-progs' find-new lists after `gen` (it is inclusive, hence gen + 1).
    std::set<std::string> progs_names(std::uint64_t gen) {
        const auto r =
            run_checked({"btrfs", "subvolume", "find-new", sv_.string(), std::to_string(gen + 1)});
        std::set<std::string> names;
        std::istringstream in(r.out);
        std::string line;
        while (std::getline(in, line)) {
            if (line.rfind("inode ", 0) != 0) continue;
            // "inode I file offset O len L disk start D offset X gen G flags F NAME"
            std::istringstream words(line);
            std::string w;
            for (int i = 0; i < 16 && words >> w; ++i) {
            }
            std::string name;
            std::getline(words, name);
            names.insert(name.substr(name.find_first_not_of(' ')));
        }
        return names;
    }

    std::uint64_t generation() {
        const UniqueFd fd = open_dir(sv_);
        return committed_generation(fd.get(), sv_);
    }

    std::filesystem::path sv_;
};

TEST_F(Changes, InodeTransidSeesWhatExtentGenerationMisses) {
    rdd::test::write_random_file(sv_ / "grow.log", 64 * 1024, 1);
    rdd::test::write_random_file(sv_ / "imm", 16 * 1024, 2);
    rdd::test::write_random_file(sv_ / "src", 256 * 1024, 3);
    write_text(sv_ / "nocow", "");
    rdd::test::set_nocow(sv_ / "nocow");
    rdd::test::write_random_file(sv_ / "nocow", 1 << 20, 4);
    std::filesystem::create_directories(sv_ / "dir1");
    rdd::test::write_random_file(sv_ / "dir1/ren", 32 * 1024, 5);
    rdd::test::write_random_file(sv_ / "quiet", 32 * 1024, 6);
    rdd::test::write_random_file(sv_ / "dedupe-dst", 128 * 1024, 3);  // same bytes as src's prefix
    const std::uint64_t g = generation();
    const std::uint64_t quiet = ino_of(sv_ / "quiet");

    write_text(sv_ / "grow.log", std::string(10000, 'a'), /*append=*/true);  // append
    write_text(sv_ / "new.txt", "a brand new file\n");                       // new file
    rdd::test::set_immutable(sv_ / "imm", true);                             // chattr +i
    run_checked({"cp", "--reflink=always", (sv_ / "src").string(), (sv_ / "ref-copy").string()});
    overwrite(sv_ / "nocow", 5 * 4096, 4096, 'n');                    // NOCOW in place
    std::filesystem::rename(sv_ / "dir1/ren", sv_ / "dir1/renamed");  // rename
    {
        // dedupe the first 128 KiB of src onto dedupe-dst (identical bytes)
        const UniqueFd src(::open((sv_ / "src").c_str(), O_RDONLY | O_CLOEXEC));
        const UniqueFd dst(::open((sv_ / "dedupe-dst").c_str(), O_RDONLY | O_CLOEXEC));
        ASSERT_TRUE(src && dst);
        alignas(file_dedupe_range)
            std::byte buf[sizeof(file_dedupe_range) + sizeof(file_dedupe_range_info)]{};
        auto* range = reinterpret_cast<file_dedupe_range*>(buf);
        range->src_offset = 0;
        range->src_length = 128 * 1024;
        range->dest_count = 1;
        range->info[0].dest_fd = dst.get();
        ASSERT_EQ(::ioctl(src.get(), FIDEDUPERANGE, range), 0);
        ASSERT_EQ(range->info[0].status, FILE_DEDUPE_RANGE_SAME);
    }
    const std::uint64_t g_after = generation();
    ASSERT_GT(g_after, g);

    const auto changed = changed_after(g);
    const auto expect_changed = [&](const std::string& rel) -> const ChangedFile* {
        const auto it = changed.find(ino_of(sv_ / rel));
        EXPECT_NE(it, changed.end()) << rel << " was not found by the INODE_ITEM.transid search";
        if (it == changed.end()) return nullptr;
        EXPECT_GT(it->second.inode.inode.transid, g) << rel;
        return &it->second;
    };
    const auto* grow = expect_changed("grow.log");
    const auto* fresh = expect_changed("new.txt");
    const auto* imm = expect_changed("imm");
    const auto* ref = expect_changed("ref-copy");
    const auto* nocow = expect_changed("nocow");
    const auto* renamed = expect_changed("dir1/renamed");
    const auto* dir1 = expect_changed("dir1");  // lost one entry, gained one
    const auto* deduped = expect_changed("dedupe-dst");
    expect_changed(".");  // gained new.txt and ref-copy
    EXPECT_EQ(changed.count(quiet), 0u) << "an untouched file must not be listed";
    ASSERT_TRUE(grow && fresh && imm && ref && nocow && renamed && dir1 && deduped);

    // What each inode tells about the change.
    EXPECT_GT(grow->inode.new_extent_items, 0u);
    EXPECT_EQ(grow->inode.inode.size, 64u * 1024 + 10000);
    EXPECT_TRUE(fresh->inode.created_since(g + 1));
    EXPECT_TRUE(imm->inode.inode.immutable());
    EXPECT_EQ(imm->inode.new_extent_items, 0u);
    EXPECT_TRUE(ref->inode.created_since(g + 1));
    EXPECT_EQ(ref->inode.new_extent_items, 0u);  // a reflink writes no new extent
    EXPECT_TRUE(nocow->inode.inode.nodatacow());
    EXPECT_EQ(nocow->inode.new_extent_items, 0u);
    EXPECT_EQ(renamed->inode.new_extent_items, 0u);
    EXPECT_TRUE(dir1->inode.inode.is_directory());
    EXPECT_TRUE(dir1->extents.empty());

    // Extents: the complete map of each regular file, new and old alike.
    ASSERT_FALSE(ref->extents.empty());
    const auto src_extents = read_file_extents(open_dir(sv_).get(), ino_of(sv_ / "src"), sv_);
    ASSERT_EQ(ref->extents.size(), src_extents.size());
    for (std::size_t i = 0; i < src_extents.size(); ++i) {
        EXPECT_EQ(ref->extents[i].item.disk_bytenr, src_extents[i].item.disk_bytenr);  // shared
        EXPECT_EQ(ref->extents[i].item.generation, src_extents[i].item.generation);    // old gen
        EXPECT_LE(ref->extents[i].item.generation, g);
    }
    std::uint64_t covered = 0;
    for (const auto& e : grow->extents) covered += e.length();
    EXPECT_GE(covered, grow->inode.inode.size);
    EXPECT_EQ(deduped->extents.front().item.disk_bytenr, src_extents.front().item.disk_bytenr);
    for (const auto& e : nocow->extents) EXPECT_LE(e.item.generation, g) << "NOCOW writes in place";

    // btrfs-progs' find-new (extent generation) lists only what wrote new extents.
    const auto listed = progs_names(g);
    EXPECT_TRUE(listed.count("grow.log")) << "an append writes a new extent";
    EXPECT_TRUE(listed.count("new.txt"));
    for (const char* missed : {"imm", "ref-copy", "nocow", "dir1/renamed", "dedupe-dst"}) {
        EXPECT_EQ(listed.count(missed), 0u)
            << missed
            << ": btrfs-progs was expected to miss this (KERNEL-FACTS §5); it now lists it";
    }

    // The CLI's --all-changes lists them all, with what changed.
    const auto r =
        run_process({RDD_BINARY, "find-new", "--all-changes", sv_.string(), std::to_string(g + 1)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto line_of = [&](const std::string& name) {
        const auto at = r.out.find("\t" + name + "\n");
        if (at == std::string::npos) return std::string();
        return r.out.substr(r.out.rfind('\n', at) + 1, at - r.out.rfind('\n', at) - 1);
    };
    EXPECT_NE(line_of("grow.log").find("changed extents"), std::string::npos) << r.out;
    EXPECT_NE(line_of("new.txt").find("changed new,extents"), std::string::npos) << r.out;
    EXPECT_NE(line_of("imm").find("flags IMMUTABLE changed inode-only"), std::string::npos)
        << r.out;
    EXPECT_NE(line_of("ref-copy").find("changed new,old-extents"), std::string::npos) << r.out;
    EXPECT_NE(line_of("nocow").find("NODATACOW changed inode-only"), std::string::npos) << r.out;
    EXPECT_NE(line_of("dir1/renamed").find("changed inode-only"), std::string::npos) << r.out;
    EXPECT_NE(line_of("dir1").find("mode 040755"), std::string::npos) << r.out;
    EXPECT_NE(line_of("dedupe-dst").find("changed inode-only"), std::string::npos) << r.out;
    EXPECT_EQ(line_of("quiet"), "");
    EXPECT_NE(r.out.find("transid marker was " + std::to_string(g_after) + "\n"),
              std::string::npos);

    // chattr -i, alone, in a later transaction: only the inode transid moves.
    rdd::test::set_immutable(sv_ / "imm", false);
    const std::uint64_t g2 = generation();
    const auto again = changed_after(g_after);
    ASSERT_EQ(again.count(ino_of(sv_ / "imm")), 1u);
    EXPECT_FALSE(again.at(ino_of(sv_ / "imm")).inode.inode.immutable());
    EXPECT_EQ(again.size(), 1u) << "nothing else changed";
    EXPECT_EQ(progs_names(g_after).count("imm"), 0u);
    EXPECT_GE(g2, g_after + 1);
}

TEST_F(Changes, NothingChangedMeansNothingFound) {
    rdd::test::write_random_file(sv_ / "a", 8192, 1);
    const std::uint64_t g = generation();
    EXPECT_TRUE(changed_after(g).empty());
    EXPECT_TRUE(changed_after(g + 100).empty());
    EXPECT_TRUE(changed_after(kMaxU64).empty());
    EXPECT_EQ(generation(), g) << "a commit with nothing to write makes no new generation";
}

TEST_F(Changes, UnsyncedDataShowsItsInodeAtOnce) {
    const std::uint64_t g = generation();
    write_text(sv_ / "unsynced", std::string(65536, 'u'));
    // No commit yet: the running transaction's INODE_ITEM is already searchable.
    const UniqueFd fd = open_dir(sv_);
    InodeScan scan(fd.get(), g + 1, sv_);
    bool found = false;
    while (auto c = scan.next()) found = found || c->ino == ino_of(sv_ / "unsynced");
    EXPECT_TRUE(found);
}

TEST_F(Changes, FullPassSeesEveryInodeAndDeletions) {
    std::filesystem::create_directories(sv_ / "d");
    for (int i = 0; i < 2500; ++i)
        write_text(sv_ / "d" / std::to_string(i), "content " + std::to_string(i));
    (void)generation();
    const auto count_all = [&] {
        const UniqueFd fd = open_dir(sv_);
        InodeScan scan(fd.get(), 0, sv_, 16 << 10);  // a small buffer: many calls, same result
        std::set<std::uint64_t> inos;
        std::uint64_t last = 0;
        while (auto c = scan.next()) {
            EXPECT_GT(c->ino, last) << "inode order";
            last = c->ino;
            inos.insert(c->ino);
        }
        EXPECT_GT(scan.stats().ioctl_calls, 10u);
        return inos;
    };
    const auto before = count_all();
    EXPECT_EQ(before.size(), 2500u + 2);  // files, d, the root directory
    for (int i = 0; i < 2500; i += 5) std::filesystem::remove(sv_ / "d" / std::to_string(i));
    (void)generation();
    const auto after = count_all();
    EXPECT_EQ(after.size(), 2000u + 2);
    for (int i = 1; i < 2500; i += 5)
        EXPECT_TRUE(after.count(ino_of(sv_ / "d" / std::to_string(i))));
}

}  // namespace
}  // namespace rdd::btrfs::test
