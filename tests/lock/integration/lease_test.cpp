// Read leases on real btrfs and XFS: refused while someone writes or maps the file
// writable, block new writers while held, tell us through the signalfd, leave no trace.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <latch>
#include <thread>

#include <gtest/gtest.h>

#include "child.hpp"
#include "lock_fs_test.hpp"
#include "reflinkdedup/clone/dedupe_range.hpp"
#include "reflinkdedup/lock/job_lock.hpp"
#include "reflinkdedup/lock/lease_set.hpp"
#include "support/file_checks.hpp"
#include "support/read_file.hpp"

namespace rdd::lock::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string contents(const std::filesystem::path& p) { return rdd::test::read_file_string(p); }

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

using LeaseTest = LockFsTest;

TEST_P(LeaseTest, WriterIsBusyWithItsPidReaderIsUsable) {
    const auto w = make_file("w", 1);
    const auto r = make_file("r", 2);
    const auto plain = make_file("plain", 3);
    Child writer({helper_path(), "hold", "wo", w.string()});
    Child reader({helper_path(), "hold", "ro", r.string()});
    ASSERT_EQ(first_line(writer), "ready");
    ASSERT_EQ(first_line(reader), "ready");

    const OpenedJob job({w, r, plain});
    auto lock = make_job_lock(LockMethod::Lease);
    const auto report = lock->lock(job.targets());
    ASSERT_EQ(report.files.size(), 3u);
    EXPECT_EQ(report.files[0].verdict, LockVerdict::Busy);
    EXPECT_EQ(report.files[0].error, EAGAIN);
    ASSERT_EQ(report.files[0].writers.size(), 1u);
    EXPECT_EQ(report.files[0].writers[0].pid, writer.pid());
    EXPECT_EQ(report.files[0].writers[0].comm, "rdd-holder");
    EXPECT_NE(report.files[0].reason.find("pid " + std::to_string(writer.pid())), std::string::npos)
        << report.files[0].reason;
    EXPECT_EQ(report.files[1].verdict, LockVerdict::Usable);
    EXPECT_EQ(report.files[2].verdict, LockVerdict::Usable);
    EXPECT_FALSE(lock->still_valid(0));
    EXPECT_TRUE(lock->still_valid(1));
    EXPECT_TRUE(lock->still_valid(2));
    lock->release(1);
    EXPECT_FALSE(lock->still_valid(1));
}

TEST_P(LeaseTest, SharedWritableMappingWithClosedFdIsBusy) {
    const auto m = make_file("m", 1);
    Child mapper({helper_path(), "map", m.string()});
    ASSERT_EQ(first_line(mapper), "ready");
    const OpenedJob job({m});
    {
        LeaseSet leases;
        const auto attempt = leases.acquire(job.fd(0), m.string());
        EXPECT_EQ(attempt.status, LeaseStatus::Busy);
        EXPECT_EQ(attempt.error, EAGAIN);
        EXPECT_FALSE(leases.held(attempt.id));
    }
    auto lock = make_job_lock(LockMethod::Lease);
    const auto report = lock->lock(job.targets());
    EXPECT_EQ(report.files[0].verdict, LockVerdict::Busy);
    ASSERT_EQ(report.files[0].writers.size(), 1u);
    EXPECT_EQ(report.files[0].writers[0].pid, mapper.pid());
    EXPECT_EQ(report.files[0].writers[0].access, WriteAccess::SharedMapping);
}

// The owner is busy (never polls): the watcher still gives the lease back at once, the writer
// goes on within milliseconds, and the owner's next look says the lease is broken.
TEST_P(LeaseTest, NewWriterGetsThroughAtOnceWhileTheOwnerIsBusyAndChangesNoTimestamp) {
    const auto f = make_file("f", 1);
    const auto ref = make_file("reference", 1);  // the same stream, to check the rest is intact
    const auto before = rdd::test::snapshot_metadata(f);
    const OpenedJob job({f});
    LeaseSet leases;
    const auto attempt = leases.acquire(job.fd(0), f.string());
    ASSERT_EQ(attempt.status, LeaseStatus::Held);
    EXPECT_EQ(rdd::test::snapshot_metadata(f), before) << "taking a lease must not move ctime";
    // Held: a non-blocking open for writing is refused.
    EXPECT_EQ(::open(f.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC), -1);
    EXPECT_EQ(errno, EWOULDBLOCK);

    Child writer({helper_path(), "open-write", f.string(), "WRITTEN-WHILE-LEASED"});
    ASSERT_EQ(first_line(writer), "opening");
    const auto opening = Clock::now();
    EXPECT_EQ(writer.read_line(2s), "opened") << "the watcher did not give the lease back";
    const double waited = ms_since(opening);
    EXPECT_LT(waited, 2000.0) << "the writer waited too long";
    EXPECT_EQ(writer.read_line(5s), "written");
    EXPECT_EQ(writer.wait(), 0);
    RecordProperty("writer_wait_ms", std::to_string(waited));

    // The owner, looking only now, learns the lease is gone.
    EXPECT_FALSE(leases.still_valid(attempt.id));
    EXPECT_FALSE(leases.held(attempt.id));
    EXPECT_GE(leases.break_signals(), 1u) << "the break should have come through the signalfd";
    EXPECT_TRUE(leases.broken().empty());  // reported once (by still_valid)

    const std::string now = contents(f);
    const std::string orig = contents(ref);
    ASSERT_EQ(now.size(), orig.size());
    EXPECT_EQ(now.substr(0, 20), "WRITTEN-WHILE-LEASED");
    EXPECT_TRUE(now.compare(20, std::string::npos, orig, 20, std::string::npos) == 0);
}

TEST_P(LeaseTest, BreakArrivesThroughSignalfdQuickly) {
    const auto f = make_file("f", 1);
    const OpenedJob job({f});
    LeaseSet leases;
    const auto attempt = leases.acquire(job.fd(0), f.string());
    ASSERT_EQ(attempt.status, LeaseStatus::Held);
    Child writer({helper_path(), "open-write", f.string(), "X"});
    ASSERT_EQ(first_line(writer), "opening");
    const auto opening = Clock::now();
    const auto broken = leases.wait_for_break(2s);
    const double latency = ms_since(opening);
    ASSERT_EQ(broken, std::vector<LeaseId>{attempt.id});
    EXPECT_LT(latency, 100.0);
    EXPECT_GE(leases.break_signals(), 1u);
    EXPECT_EQ(writer.read_line(2s), "opened");
    EXPECT_LT(ms_since(opening), 2000.0);
    EXPECT_EQ(writer.read_line(5s), "written");
    RecordProperty("break_latency_ms", std::to_string(latency));
}

TEST_P(LeaseTest, LeaseAndReleaseLeaveNoTrace) {
    const auto f = make_file("f", 1);
    const auto before = rdd::test::snapshot_metadata(f);
    {
        const OpenedJob job({f});
        auto lock = make_job_lock(LockMethod::Lease);
        const auto report = lock->lock(job.targets());
        ASSERT_EQ(report.files[0].verdict, LockVerdict::Usable);
        lock->release_all();
    }
    EXPECT_EQ(rdd::test::snapshot_metadata(f), before);
    // Nothing is left: a writer gets through without waiting.
    Child writer({helper_path(), "open-write", f.string(), "X"});
    ASSERT_EQ(first_line(writer), "opening");
    EXPECT_EQ(writer.read_line(1s), "opened");
}

TEST_P(LeaseTest, DedupeWorksUnderLeasesAndTheyStayValid) {
    const auto src = make_file("src", 7);
    const auto dst = make_file("dst", 7);
    const OpenedJob job({src, dst});
    auto lock = make_job_lock(LockMethod::Lease);
    const auto report = lock->lock(job.targets());
    ASSERT_EQ(report.files[0].verdict, LockVerdict::Usable);
    ASSERT_EQ(report.files[1].verdict, LockVerdict::Usable);
    {
        const std::size_t dests[] = {1};
        auto guard = lock->guard_destinations(dests);
        const DedupeTarget t{job.fd(1), 0};
        const auto out = dedupe_range(job.fd(0), 0, kMiB, std::span(&t, 1), src.string());
        EXPECT_EQ(out[0].status, DedupeStatus::Same);
    }
    EXPECT_TRUE(lock->still_valid(0));
    EXPECT_TRUE(lock->still_valid(1));
    EXPECT_EQ(rdd::test::bytes_shared_with(src, dst), kMiB);
}

// Worker threads each holding leases (as the engine will): every thread blocks the signal
// because main() blocked it before starting them; each set notices only its own break.
TEST_P(LeaseTest, LeaseSetsInWorkerThreads) {
    const auto a = make_file("a", 1);
    const auto b = make_file("b", 2);
    const OpenedJob job({a, b});
    const LeaseSignalBlock block;  // what main() does before starting threads
    std::latch leased(2);
    std::atomic<bool> a_broken{false};
    std::atomic<bool> b_broken{false};
    std::atomic<std::size_t> a_signals{0};
    auto worker = [&](int fd, const std::filesystem::path& p, std::atomic<bool>& broke,
                      std::chrono::milliseconds wait, std::atomic<std::size_t>* signals) {
        LeaseSet leases;
        const auto attempt = leases.acquire(fd, p.string());
        leased.count_down();
        if (attempt.status != LeaseStatus::Held) return;
        broke = !leases.wait_for_break(wait).empty();
        if (signals != nullptr) *signals = leases.break_signals();
    };
    {
        std::jthread ta(worker, job.fd(0), a, std::ref(a_broken), 3000ms, &a_signals);
        std::jthread tb(worker, job.fd(1), b, std::ref(b_broken), 700ms, nullptr);
        leased.wait();
        Child writer({helper_path(), "open-write", a.string(), "X"});
        EXPECT_EQ(first_line(writer), "opening");
        EXPECT_EQ(writer.read_line(2s), "opened");
    }  // joined
    EXPECT_TRUE(a_broken);
    EXPECT_FALSE(b_broken);
    // a_signals may be 0: B's set can read A's signal first; F_GETLEASE still told A.
    RecordProperty("a_break_signals", std::to_string(a_signals.load()));
}

// The safety net: a thread that does not block the lease signal may receive it, and must not
// die of it (SIG_IGN); the break is still noticed through F_GETLEASE.
TEST_P(LeaseTest, ThreadNotBlockingTheSignalSurvivesABreak) {
    const auto f = make_file("f", 1);
    const OpenedJob job({f});
    // Started before any LeaseSignalBlock: nothing is blocked in this thread.
    std::jthread idle([](const std::stop_token& st) {
        while (!st.stop_requested()) std::this_thread::sleep_for(1ms);
    });
    {
        LeaseSet leases;
        const auto attempt = leases.acquire(job.fd(0), f.string());
        ASSERT_EQ(attempt.status, LeaseStatus::Held);
        Child writer({helper_path(), "open-write", f.string(), "X"});
        ASSERT_EQ(first_line(writer), "opening");
        const auto opening = Clock::now();
        EXPECT_EQ(leases.wait_for_break(2s), std::vector<LeaseId>{attempt.id});
        EXPECT_LT(ms_since(opening), 200.0);
        EXPECT_EQ(writer.read_line(2s), "opened");
    }
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(LeaseTest);

}  // namespace
}  // namespace rdd::lock::test
