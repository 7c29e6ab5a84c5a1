// A process frozen mid-job and SIGKILLed: recover() puts every original flag back, and leaves
// alone a file that was replaced by another inode under the same name.
#include <linux/fs.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "child.hpp"
#include "lock_fs_test.hpp"
#include "reflinkdedup/lock/file_freeze_journal.hpp"
#include "reflinkdedup/lock/recover.hpp"
#include "support/file_checks.hpp"

namespace rdd::lock::test {
namespace {

constexpr std::uint32_t kImmutable = FS_IMMUTABLE_FL;

const RecoverItem* find(const std::vector<RecoverItem>& items, const std::filesystem::path& p) {
    const auto it = std::find_if(items.begin(), items.end(),
                                 [&](const RecoverItem& i) { return i.entry.path == p.string(); });
    return it == items.end() ? nullptr : &*it;
}

using RecoverTest = LockFsTest;

TEST_P(RecoverTest, RestoresFlagsAfterSigkillAndSkipsReplacedFiles) {
    const auto a = make_file("a", 1);
    const auto b = make_file("b nodump", 2);
    const auto c = make_file("c", 3);
    const auto d = make_file("d", 4);
    set_flags(b, flags_of(b) | FS_NODUMP_FL);
    const auto a_before = rdd::test::snapshot_metadata(a);
    const std::uint32_t b_flags = flags_of(b);

    {
        Child freezer({helper_path(), "freeze", state_dir().string(), a.string(), b.string(), c.string(),
                       d.string()});
        ASSERT_EQ(freezer.read_line(std::chrono::seconds(10)), "frozen 4");
        freezer.kill(SIGKILL);
        const int status = freezer.wait();
        ASSERT_TRUE(WIFSIGNALED(status));
    }
    for (const auto& p : {a, b, c, d}) EXPECT_NE(flags_of(p) & kImmutable, 0u) << p;

    // An admin replaces c (new inode, same name, its own flags) and deletes d.
    rdd::test::set_immutable(c, false);
    std::filesystem::remove(c);
    rdd::test::write_random_file(c, kMiB, 33);
    set_flags(c, FS_NODUMP_FL);
    rdd::test::set_immutable(d, false);
    std::filesystem::remove(d);

    FileFreezeJournal journal(state_dir());  // the killed process's lock died with it
    ASSERT_EQ(journal.pending().size(), 4u);
    const auto items = recover(journal);
    ASSERT_EQ(items.size(), 4u);
    ASSERT_TRUE(find(items, a) && find(items, b) && find(items, c) && find(items, d));
    EXPECT_EQ(find(items, a)->outcome, RecoverOutcome::Restored);
    EXPECT_EQ(find(items, b)->outcome, RecoverOutcome::Restored);
    EXPECT_EQ(find(items, c)->outcome, RecoverOutcome::Replaced) << find(items, c)->detail;
    EXPECT_EQ(find(items, d)->outcome, RecoverOutcome::Missing) << find(items, d)->detail;

    EXPECT_EQ(flags_of(b), b_flags);
    EXPECT_EQ(flags_of(c), FS_NODUMP_FL) << "the replacement must not be touched";
    auto a_after = rdd::test::snapshot_metadata(a);
    EXPECT_EQ(a_after.inode_flags, a_before.inode_flags);
    EXPECT_EQ(a_after.mtime, a_before.mtime);
    EXPECT_EQ(a_after.size, a_before.size);

    // Idempotent: the unresolved ones stay pending and come back the same; the rest are done.
    const auto again = recover(journal);
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(find(again, c)->outcome, RecoverOutcome::Replaced);
    EXPECT_EQ(find(again, d)->outcome, RecoverOutcome::Missing);
    EXPECT_EQ(flags_of(c), FS_NODUMP_FL);
    EXPECT_EQ(journal.pending().size(), 2u);
}

TEST_P(RecoverTest, AlreadyRestoredFileIsJustForgotten) {
    const auto a = make_file("a", 1);
    {
        Child freezer({helper_path(), "freeze", state_dir().string(), a.string()});
        ASSERT_EQ(freezer.read_line(std::chrono::seconds(10)), "frozen 1");
        freezer.kill(SIGKILL);
        (void)freezer.wait();
    }
    rdd::test::set_immutable(a, false);  // as if it crashed between the restore and forget
    FileFreezeJournal journal(state_dir());
    const auto items = recover(journal);
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(items[0].outcome, RecoverOutcome::AlreadyOriginal);
    EXPECT_TRUE(journal.pending().empty());
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(RecoverTest);

}  // namespace
}  // namespace rdd::lock::test
