#pragma once
// Internal: an asynchronous queue of positional reads (and page-cache drops). The hasher queues
// reads into its buffers and reaps completions; io_uring and a pread thread pool implement it
// the same way.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "reflinkdedup/hash/read_engine_kind.hpp"

namespace rdd::hash::detail {

struct ReadRequest {
    enum class Op {
        Read,       // len bytes at offset into buf
        DropCache,  // posix_fadvise(DONTNEED) of the whole file, off the caller's thread: it
                    // can take a millisecond (remote LRU drains) and would stall the loop
    };
    Op op = Op::Read;
    int fd = -1;
    std::uint64_t offset = 0;
    std::byte* buf = nullptr;
    std::uint32_t len = 0;
    std::uint64_t user_data = 0;
};

struct ReadCompletion {
    std::uint64_t user_data = 0;
    std::int64_t result = 0;  // bytes read (0 = end of file) / 0 for DropCache, or -errno
};

class ReadEngine {
public:
    virtual ~ReadEngine() = default;
    [[nodiscard]] virtual EngineKind kind() const noexcept = 0;
    // The caller keeps at most `depth` reads queued or in flight, and keeps each buffer and
    // fd alive until its completion has been reaped.
    virtual void queue(const ReadRequest& request) = 0;
    // Starts what was queued without waiting for anything.
    virtual void submit() = 0;
    // Starts what was queued, then appends every available completion to `out`; with
    // `wait`, first blocks until there is at least one (the caller has reads in flight).
    virtual void reap(std::vector<ReadCompletion>& out, bool wait) = 0;
};

struct EngineStart {
    std::unique_ptr<ReadEngine> engine;
    std::string note;  // why io_uring is not used, "" when it is
};

// depth = most reads queued or in flight at once.
[[nodiscard]] EngineStart start_engine(EngineChoice choice, unsigned depth, unsigned pread_threads);

// Throws SysError when io_uring cannot be set up.
[[nodiscard]] std::unique_ptr<ReadEngine> make_uring_engine(unsigned depth);
[[nodiscard]] std::unique_ptr<ReadEngine> make_pread_engine(unsigned threads);

}  // namespace rdd::hash::detail
