// One writer at a time: a second process times out with WriterLockTimeoutError, then gets the
// lock once the first lets go. Readers never need it.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>

#include "catalog_test_support.hpp"
#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/catalog/writer_lock.hpp"

namespace rdd::catalog {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

// A child process that opens the catalog as writer, reports through a pipe, and holds it
// until the parent closes its end of a second pipe.
class LockHolder {
public:
    explicit LockHolder(const std::filesystem::path& db) {
        int ready[2];
        int release[2];
        if (::pipe(ready) != 0 || ::pipe(release) != 0) throw std::runtime_error("pipe");
        pid_ = ::fork();
        if (pid_ == 0) {
            ::close(ready[0]);
            ::close(release[1]);
            int status = 0;
            try {
                Catalog c = Catalog::open_writer(db, testing::writer_options());
                (void)::write(ready[1], "1", 1);
                char byte;
                (void)::read(release[0], &byte, 1);  // EOF when the parent lets go
            } catch (...) {
                status = 1;
            }
            ::_exit(status);
        }
        ::close(ready[1]);
        ::close(release[0]);
        release_fd_ = release[1];
        char byte = 0;
        const bool ok = ::read(ready[0], &byte, 1) == 1;
        ::close(ready[0]);
        if (!ok) throw std::runtime_error("lock holder failed to start");
    }
    LockHolder(const LockHolder&) = delete;
    LockHolder& operator=(const LockHolder&) = delete;
    ~LockHolder() { (void)stop(); }

    // Releases the lock (the child exits); returns its exit status.
    int stop() {
        if (pid_ <= 0) return 0;
        ::close(release_fd_);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

private:
    pid_t pid_ = -1;
    int release_fd_ = -1;
};

TEST(CatalogWriterLock, SecondWriterTimesOutThenGetsTheLockAfterRelease) {
    TempDir tmp;
    const auto db = tmp.path() / "c.sqlite";
    { (void)Catalog::open_writer(db, testing::writer_options()); }

    LockHolder holder(db);
    OpenOptions opts = testing::writer_options();
    opts.lock_timeout = 300ms;
    const auto start = std::chrono::steady_clock::now();
    try {
        (void)Catalog::open_writer(db, opts);
        FAIL() << "opened while another process holds the writer lock";
    } catch (const WriterLockTimeoutError& e) {
        EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
        EXPECT_NE(std::string(e.what()).find(".lock"), std::string::npos) << e.what();
    }
    // Readers do not need the lock.
    Catalog reader = Catalog::open_reader(db);
    EXPECT_EQ(reader.block_size(), 4096U);

    EXPECT_EQ(holder.stop(), 0);
    Catalog c = Catalog::open_writer(db, opts);
    EXPECT_TRUE(c.writable());
}

TEST(CatalogWriterLock, WaitsForAReleaseWithinTheTimeout) {
    TempDir tmp;
    const auto db = tmp.path() / "c.sqlite";
    { (void)Catalog::open_writer(db, testing::writer_options()); }
    auto holder = std::make_unique<LockHolder>(db);
    std::thread releaser([&] {
        std::this_thread::sleep_for(200ms);
        holder->stop();
    });
    OpenOptions opts = testing::writer_options();
    opts.lock_timeout = 10s;
    Catalog c = Catalog::open_writer(db, opts);
    releaser.join();
    EXPECT_TRUE(c.writable());
}

TEST(CatalogWriterLock, ExcludesOtherDescriptionsInTheSameProcess) {
    TempDir tmp;
    const std::string path = (tmp.path() / "x.lock").string();
    WriterLock first = WriterLock::acquire(path, 0ms);
    EXPECT_TRUE(first.held());
    EXPECT_THROW((void)WriterLock::acquire(path, 50ms), WriterLockTimeoutError);
    first.release();
    WriterLock second = WriterLock::acquire(path, 0ms);
    EXPECT_TRUE(second.held());
    EXPECT_EQ(testing::mode_of(path), 0600U);
}

}  // namespace
}  // namespace rdd::catalog
