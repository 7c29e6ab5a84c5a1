// dedup-vol's retry list over a real catalog: busy files recorded at once with the first
// writer, a broken lock recorded too, done files leave, a complete run keeps only this run's
// busy files, an interrupted one keeps the rest, deleted files drop out.
#include <gtest/gtest.h>

#include <map>

#include "catalog_test_support.hpp"
#include "reflinkdedup/app/retry_list.hpp"
#include "reflinkdedup/catalog/busy_files.hpp"

namespace rdd {
namespace {

using catalog::testing::TempDir;

// A JobLock whose files stay valid or not as the test says.
class FakeLock final : public lock::JobLock {
public:
    explicit FakeLock(lock::LockMethod m) : method_(m) {}
    lock::LockMethod method() const noexcept override { return method_; }
    lock::JobLockReport lock(std::span<const lock::LockTarget>) override { return {}; }
    lock::DestinationGuard guard_destinations(std::span<const std::size_t>) override { return {}; }
    bool still_valid(std::size_t i) override { return !broken.contains(i); }
    void release(std::size_t) override {}
    void release_all() noexcept override {}
    std::set<std::size_t> broken;

private:
    lock::LockMethod method_;
};

lock::LockResult busy_result(pid_t pid, const std::string& comm) {
    lock::LockResult r;
    r.verdict = lock::LockVerdict::Busy;
    r.reason = "in write use: pid " + std::to_string(pid) + " (" + comm + ")";
    r.writers.push_back({pid, comm, lock::WriteAccess::OpenFd, 3, 01, {}});
    return r;
}

class RetryListTest : public ::testing::Test {
protected:
    void SetUp() override {
        cat_.emplace(catalog::Catalog::open_writer(tmp_.path() / "c.sqlite", catalog::testing::writer_options()));
        const catalog::VolumeId v = cat_->add_volume(0, "/v");
        catalog::WriteBatch b(*cat_, cat_->begin_pass(v));
        for (std::uint64_t ino = 1; ino <= 4; ++ino) {
            ids_.push_back(b.put_file(catalog::testing::record(ino, 1, {}, v), catalog::testing::blocks(ino * 10, 1)));
        }
        b.commit();
    }
    std::map<catalog::FileId, catalog::BusyFile> listed() {
        std::map<catalog::FileId, catalog::BusyFile> out;
        for (const auto& b : catalog::busy_files(*cat_)) out[b.file] = b;
        return out;
    }

    TempDir tmp_;
    std::optional<catalog::Catalog> cat_;
    std::vector<catalog::FileId> ids_;
};

TEST_F(RetryListTest, BusyAndBrokenFilesAreRecordedAtOnceAndLeaveWhenDone) {
    {
        RetryList retry(*cat_);
        EXPECT_EQ(retry.size(), 0u);
        lock::JobLockReport report;
        report.files = {busy_result(4242, "vim"), lock::LockResult{lock::LockVerdict::Usable, false, {}, 0, {}}};
        const std::vector<catalog::FileId> job{ids_[0], ids_[1]};
        retry.note_lock(job, report);
        EXPECT_TRUE(retry.listed(ids_[0]));
        EXPECT_FALSE(retry.listed(ids_[1]));
        auto now = listed();  // written already: a run killed from here on keeps it
        ASSERT_EQ(now.size(), 1u);
        EXPECT_EQ(now[ids_[0]].pid, 4242);
        EXPECT_EQ(now[ids_[0]].comm, "vim");
        EXPECT_EQ(now[ids_[0]].reason, "in write use: pid 4242 (vim)");

        FakeLock lease(lock::LockMethod::Lease);
        const std::vector<catalog::FileId> job2{ids_[2], ids_[3]};
        EXPECT_TRUE(retry.still_locked(lease, job2));
        lease.broken = {1};
        EXPECT_FALSE(retry.still_locked(lease, job2));
        now = listed();
        ASSERT_EQ(now.size(), 2u);
        EXPECT_NE(now[ids_[3]].reason.find("lease broken"), std::string::npos) << now[ids_[3]].reason;
        EXPECT_EQ(now[ids_[3]].pid, 0);

        // Busy earlier in this run: done later does not take it off.
        retry.done(std::vector<catalog::FileId>{ids_[0], ids_[1]});
        EXPECT_EQ(listed().size(), 2u);
        retry.finish(/*complete=*/false);
    }
    {
        // Next run: both listed; one is done, the other is neither busy nor done.
        RetryList retry(*cat_);
        EXPECT_EQ(retry.size(), 2u);
        retry.done(std::vector<catalog::FileId>{ids_[3]});
        EXPECT_EQ(listed().size(), 1u);
        retry.finish(/*complete=*/false);  // interrupted: what was not reached stays
        EXPECT_EQ(listed().size(), 1u);
    }
    {
        // A complete run where it was not busy again: off the list.
        RetryList retry(*cat_);
        retry.finish(/*complete=*/true);
        EXPECT_TRUE(listed().empty());
    }
}

TEST_F(RetryListTest, CompleteRunKeepsOnlyThisRunsBusyFilesAndCountsRuns) {
    for (int run = 1; run <= 2; ++run) {
        RetryList retry(*cat_);
        lock::JobLockReport report;
        report.files = {busy_result(7, "dd"), busy_result(8, "cp")};
        // File 2 is busy only in the first run; file 0 in both (twice in the second).
        const std::vector<catalog::FileId> job = run == 1 ? std::vector{ids_[0], ids_[2]} : std::vector{ids_[0], ids_[0]};
        retry.note_lock(job, report);
        retry.finish(/*complete=*/true);
    }
    const auto now = listed();
    ASSERT_EQ(now.size(), 1u);
    EXPECT_EQ(now.begin()->first, ids_[0]);
    EXPECT_EQ(now.begin()->second.times, 2);  // once per run
}

TEST_F(RetryListTest, FilesNoLongerCataloguedDropOut) {
    {
        RetryList retry(*cat_);
        lock::JobLockReport report;
        report.files = {busy_result(7, "dd")};
        retry.note_lock(std::vector<catalog::FileId>{ids_[1]}, report);
    }
    ASSERT_TRUE(cat_->delete_file(ids_[1]));
    const RetryList retry(*cat_);
    EXPECT_EQ(retry.size(), 0u);
    EXPECT_EQ(cat_->connection().query_int("SELECT count(*) FROM busy_file"), 0);
}

}  // namespace
}  // namespace rdd
