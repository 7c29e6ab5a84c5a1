// ReadEngine on a small pool of threads calling pread(2): the fallback where io_uring is
// disabled (io_uring_disabled sysctl, seccomp, old kernels). Threads give it the same
// "many reads in flight" shape, so small files still overlap their latency.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "read_engine.hpp"

namespace rdd::hash::detail {

namespace {

class PreadEngine final : public ReadEngine {
public:
    explicit PreadEngine(unsigned threads) {
        workers_.reserve(threads);
        for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
    }

    ~PreadEngine() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;  // workers finish the queue first: buffers outlive this object
        }
        work_cv_.notify_all();
        for (auto& t : workers_) t.join();
    }

    EngineKind kind() const noexcept override { return EngineKind::Pread; }

    void queue(const ReadRequest& r) override { batch_.push_back(r); }

    void submit() override {
        if (batch_.empty()) return;
        std::lock_guard lock(mutex_);
        publish();
    }

    void reap(std::vector<ReadCompletion>& out, bool wait) override {
        std::unique_lock lock(mutex_);
        publish();
        if (wait) done_cv_.wait(lock, [this] { return !done_.empty(); });
        out.insert(out.end(), done_.begin(), done_.end());
        done_.clear();
    }

private:
    // Hands the caller's batch to the workers; mutex_ held.
    void publish() {
        if (batch_.empty()) return;
        pending_.insert(pending_.end(), batch_.begin(), batch_.end());
        batch_.clear();
        work_cv_.notify_all();
    }

    void work() {
        std::unique_lock lock(mutex_);
        for (;;) {
            work_cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
            if (pending_.empty()) return;  // stopping, nothing left
            const ReadRequest r = pending_.front();
            pending_.pop_front();
            lock.unlock();
            std::int64_t result = 0;
            if (r.op == ReadRequest::Op::Read) {
                const ssize_t n = ::pread(r.fd, r.buf, r.len, static_cast<off_t>(r.offset));
                result = n < 0 ? -static_cast<std::int64_t>(errno) : n;
            } else {
                result = -::posix_fadvise(r.fd, 0, 0, POSIX_FADV_DONTNEED);
            }
            lock.lock();
            done_.push_back({r.user_data, result});
            done_cv_.notify_one();
        }
    }

    std::vector<ReadRequest> batch_;  // queued by the caller, not yet visible to workers
    std::mutex mutex_;
    std::condition_variable work_cv_;
    std::condition_variable done_cv_;
    std::deque<ReadRequest> pending_;
    std::vector<ReadCompletion> done_;
    bool stopping_ = false;
    std::vector<std::thread> workers_;  // last: joined before the members above go away
};

}  // namespace

std::unique_ptr<ReadEngine> make_pread_engine(unsigned threads) {
    return std::make_unique<PreadEngine>(threads == 0 ? 1 : threads);
}

}  // namespace rdd::hash::detail
