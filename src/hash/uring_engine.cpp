// ReadEngine on io_uring: READ (and FADVISE) requests batched into one io_uring_enter per turn.
#include <fcntl.h>
#include <liburing.h>

#include <cerrno>
#include <cstring>

#include "read_engine.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::hash::detail {

namespace {

// The ring itself, torn down exactly once.
class Ring {
public:
    explicit Ring(unsigned entries) {
        // COOP_TASKRUN (5.19+): completions are processed when we enter the kernel anyway, so
        // the kernel need not interrupt us for each one. Older kernels reject it: retry plain.
        int rc = io_uring_queue_init(entries, &ring_, IORING_SETUP_COOP_TASKRUN);
        if (rc == -EINVAL) rc = io_uring_queue_init(entries, &ring_, 0);
        if (rc < 0) throw SysError(-rc, "io_uring_queue_init", "");
    }
    ~Ring() { io_uring_queue_exit(&ring_); }
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    io_uring* get() noexcept { return &ring_; }

private:
    io_uring ring_{};
};

class UringEngine final : public ReadEngine {
public:
    explicit UringEngine(unsigned depth) : ring_(depth), cqes_(depth) {}

    ~UringEngine() override {
        // The hasher reaps everything before it frees buffers; this is the last line of
        // defence should it not have: a read still in flight would write into freed memory.
        std::vector<ReadCompletion> sink;
        while (in_kernel_ > 0) {
            try {
                reap(sink, true);
            } catch (...) {
                break;
            }
            sink.clear();
        }
    }

    EngineKind kind() const noexcept override { return EngineKind::IoUring; }

    void queue(const ReadRequest& r) override {
        io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
        if (sqe == nullptr) {  // SQ full: cannot happen while depth <= entries, but be safe
            enter(false);
            sqe = io_uring_get_sqe(ring_.get());
            if (sqe == nullptr) throw SysError(EBUSY, "io_uring_get_sqe", "");
        }
        if (r.op == ReadRequest::Op::Read) {
            io_uring_prep_read(sqe, r.fd, r.buf, r.len, r.offset);
        } else {
            // The kernel runs DONTNEED in an io-wq worker (it may block).
            io_uring_prep_fadvise(sqe, r.fd, 0, 0, POSIX_FADV_DONTNEED);
        }
        io_uring_sqe_set_data64(sqe, r.user_data);
        ++queued_;
    }

    void submit() override {
        if (queued_ > 0) enter(false);
    }

    void reap(std::vector<ReadCompletion>& out, bool wait) override {
        if (wait || queued_ > 0) enter(wait);
        for (;;) {
            const unsigned n = io_uring_peek_batch_cqe(ring_.get(), cqes_.data(),
                                                       static_cast<unsigned>(cqes_.size()));
            for (unsigned i = 0; i < n; ++i)
                out.push_back({io_uring_cqe_get_data64(cqes_[i]), cqes_[i]->res});
            io_uring_cq_advance(ring_.get(), n);
            in_kernel_ -= n;
            if (n < cqes_.size()) break;
        }
    }

private:
    // Submits queued SQEs (one syscall), waiting for a completion when asked.
    void enter(bool wait) {
        for (;;) {
            const int rc = wait ? io_uring_submit_and_wait(ring_.get(), 1)
                                : io_uring_submit(ring_.get());
            if (rc >= 0) {
                queued_ -= static_cast<unsigned>(rc);
                in_kernel_ += static_cast<unsigned>(rc);
                if (queued_ == 0 || in_kernel_ > 0) return;
                continue;  // partial submission with nothing to wait for: push the rest
            }
            if (rc == -EINTR) continue;
            if ((rc == -EAGAIN || rc == -EBUSY) && in_kernel_ > 0) {
                // Out of kernel resources for now: let completions drain, then retry.
                if (wait) {
                    io_uring_cqe* cqe = nullptr;
                    const int w = io_uring_wait_cqe(ring_.get(), &cqe);
                    if (w < 0 && w != -EINTR) throw SysError(-w, "io_uring_wait_cqe", "");
                }
                return;
            }
            throw SysError(-rc, "io_uring_enter", "");
        }
    }

    Ring ring_;
    std::vector<io_uring_cqe*> cqes_;
    unsigned queued_ = 0;     // SQEs prepared, not yet submitted
    unsigned in_kernel_ = 0;  // submitted, completion not yet reaped
};

}  // namespace

std::unique_ptr<ReadEngine> make_uring_engine(unsigned depth) {
    return std::make_unique<UringEngine>(depth);
}

}  // namespace rdd::hash::detail
