// The journaled immutable-flag freeze on real btrfs and XFS.
#include <fcntl.h>
#include <linux/fs.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include <gtest/gtest.h>

#include "child.hpp"
#include "lock_fs_test.hpp"
#include "reflinkdedup/clone/dedupe_range.hpp"
#include "reflinkdedup/lock/file_freeze_journal.hpp"
#include "reflinkdedup/lock/freezer.hpp"
#include "reflinkdedup/lock/job_lock.hpp"
#include "support/file_checks.hpp"

namespace rdd::lock::test {
namespace {

constexpr std::uint32_t kImmutable = FS_IMMUTABLE_FL;

using ImmutableTest = LockFsTest;

TEST_P(ImmutableTest, WriterIsBusyWithItsPidReaderIsFrozen) {
    const auto w = make_file("w", 1);
    const auto r = make_file("r", 2);
    const auto plain = make_file("plain", 3);
    Child writer({helper_path(), "hold", "wo", w.string()});
    Child reader({helper_path(), "hold", "ro", r.string()});
    ASSERT_EQ(first_line(writer), "ready");
    ASSERT_EQ(first_line(reader), "ready");

    FileFreezeJournal journal(state_dir());
    const OpenedJob job({w, r, plain});
    auto lock = make_job_lock(LockMethod::Immutable, &journal);
    const auto report = lock->lock(job.targets());
    ASSERT_EQ(report.files.size(), 3u);
    EXPECT_EQ(report.files[0].verdict, LockVerdict::Busy);
    ASSERT_EQ(report.files[0].writers.size(), 1u);
    EXPECT_EQ(report.files[0].writers[0].pid, writer.pid());
    EXPECT_EQ(report.files[0].writers[0].comm, "rdd-holder");
    EXPECT_EQ(report.files[1].verdict, LockVerdict::Usable);
    EXPECT_EQ(report.files[2].verdict, LockVerdict::Usable);

    EXPECT_EQ(flags_of(w) & kImmutable, 0u) << "a busy file is thawed at once";
    EXPECT_NE(flags_of(r) & kImmutable, 0u);
    EXPECT_NE(flags_of(plain) & kImmutable, 0u);
    EXPECT_EQ(journal.pending().size(), 2u);
    // Frozen: a new writer is refused outright, even root.
    errno = 0;
    EXPECT_LT(::open(plain.c_str(), O_WRONLY | O_CLOEXEC), 0);
    EXPECT_EQ(errno, EPERM);
    EXPECT_FALSE(lock->still_valid(0));
    EXPECT_TRUE(lock->still_valid(1));

    lock->release(1);
    EXPECT_EQ(flags_of(r), 0u);
    EXPECT_FALSE(lock->still_valid(1));
    EXPECT_EQ(journal.pending().size(), 1u);
    lock.reset();  // releases the rest
    EXPECT_EQ(flags_of(plain), 0u);
    EXPECT_TRUE(journal.pending().empty());
}

TEST_P(ImmutableTest, SharedWritableMappingMadeBeforeTheFlagIsBusy) {
    const auto m = make_file("m", 1);
    Child mapper({helper_path(), "map", m.string()});
    ASSERT_EQ(first_line(mapper), "ready");
    FileFreezeJournal journal(state_dir());
    const OpenedJob job({m});
    auto lock = make_job_lock(LockMethod::Immutable, &journal);
    const auto report = lock->lock(job.targets());
    EXPECT_EQ(report.files[0].verdict, LockVerdict::Busy);
    ASSERT_EQ(report.files[0].writers.size(), 1u);
    EXPECT_EQ(report.files[0].writers[0].pid, mapper.pid());
    EXPECT_EQ(report.files[0].writers[0].access, WriteAccess::SharedMapping);
    EXPECT_EQ(flags_of(m), 0u);
    EXPECT_TRUE(journal.pending().empty());
}

TEST_P(ImmutableTest, FlagsRestoredExactlyAndDestinationsThawedOnlyInsideTheGuard) {
    const auto src = make_file("src", 5);
    const auto dst = make_file("dst", 5);
    const auto nodump = make_file("nodump", 6);
    const auto imm = make_file("already-immutable", 7);
    set_flags(nodump, flags_of(nodump) | FS_NODUMP_FL);
    rdd::test::set_immutable(imm, true);
    const std::uint32_t before[] = {flags_of(src), flags_of(dst), flags_of(nodump), flags_of(imm)};
    ASSERT_NE(before[2] & FS_NODUMP_FL, 0u);

    {
        FileFreezeJournal journal(state_dir());
        const OpenedJob job({src, dst, nodump, imm});
        auto lock = make_job_lock(LockMethod::Immutable, &journal);
        const auto report = lock->lock(job.targets());
        for (const auto& f : report.files) EXPECT_EQ(f.verdict, LockVerdict::Usable) << f.reason;
        EXPECT_FALSE(report.files[0].source_only);
        EXPECT_FALSE(report.files[2].source_only);
        EXPECT_TRUE(report.files[3].source_only) << "already immutable: may only be a source";
        EXPECT_EQ(flags_of(nodump), before[2] | kImmutable);
        EXPECT_EQ(journal.pending().size(), 3u) << "the already-immutable file is not ours to touch";

        const DedupeTarget target{job.fd(1), 0};
        // Outside a guard the kernel refuses the frozen destination.
        auto out = dedupe_range(job.fd(0), 0, kMiB, std::span(&target, 1), src.string());
        EXPECT_EQ(out[0].status, DedupeStatus::Failed);
        EXPECT_EQ(out[0].error, EPERM);
        const std::size_t source_only[] = {3};
        EXPECT_THROW((void)lock->guard_destinations(source_only), std::logic_error);
        {
            const std::size_t dests[] = {1};
            auto guard = lock->guard_destinations(dests);
            EXPECT_EQ(flags_of(dst), before[1]);
            out = dedupe_range(job.fd(0), 0, kMiB, std::span(&target, 1), src.string());
            EXPECT_EQ(out[0].status, DedupeStatus::Same);
        }
        EXPECT_EQ(flags_of(dst), before[1] | kImmutable) << "frozen again after the guard";
        EXPECT_TRUE(lock->still_valid(1));
        // An immutable source is fine: dedupe onto it refused, from it allowed.
        const DedupeTarget onto_src{job.fd(0), 0};
        {
            const std::size_t dests[] = {0};
            auto guard = lock->guard_destinations(dests);
            out = dedupe_range(job.fd(3), 0, kMiB, std::span(&onto_src, 1), imm.string());
            EXPECT_EQ(out[0].status, DedupeStatus::Differs);  // other content, but not EPERM
        }
        lock->release_all();
        EXPECT_TRUE(journal.pending().empty());
    }
    EXPECT_EQ(rdd::test::bytes_shared_with(src, dst), kMiB);
    EXPECT_EQ(flags_of(src), before[0]);
    EXPECT_EQ(flags_of(dst), before[1]);
    EXPECT_EQ(flags_of(nodump), before[2]);
    EXPECT_EQ(flags_of(imm), before[3]);
    EXPECT_NE(flags_of(imm) & kImmutable, 0u);
    rdd::test::set_immutable(imm, false);  // ours: leave nothing behind
}

TEST_P(ImmutableTest, SameInodeTwiceIsFrozenOnce) {
    const auto a = make_file("a", 1);
    std::filesystem::create_hard_link(a, path("a-link"));
    FileFreezeJournal journal(state_dir());
    const OpenedJob job({a, path("a-link")});
    Freezer freezer(journal);
    const auto report = freezer.freeze(job.targets());
    EXPECT_EQ(report.files[0].state, FreezeState::Frozen);
    EXPECT_EQ(report.files[1].state, FreezeState::Failed);
    EXPECT_NE(report.files[1].reason.find("same file"), std::string::npos);
    freezer.release_all();
    EXPECT_EQ(flags_of(a), 0u);
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(ImmutableTest);

}  // namespace
}  // namespace rdd::lock::test
