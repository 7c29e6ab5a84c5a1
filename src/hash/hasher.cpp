// The hasher's scheduler: keeps the read engine full from a fixed set of buffers, hashes each
// file's buffers in file order as they complete, and reports files as they finish.
#include "reflinkdedup/hash/hasher.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <stdexcept>
#include <string>

#include "buffer_pool.hpp"
#include "read_engine.hpp"
#include "read_plan.hpp"
#include "reflinkdedup/hash/zero_block.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::hash {

namespace {

using detail::ReadCompletion;
using detail::ReadEngine;
using detail::ReadPlan;

constexpr std::uint32_t kPage = 4096;
constexpr std::uint32_t kMaxBlockSize = 64u << 20;

void validate(const HasherOptions& o) {
    if (o.block_size == 0 || o.block_size % kPage != 0 || o.block_size > kMaxBlockSize)
        throw std::invalid_argument("hash block size must be a multiple of 4096 up to 64 MiB");
    if (o.queue_depth == 0 || o.queue_depth > 4096)
        throw std::invalid_argument("hash queue depth must be 1..4096");
    if (o.max_files_in_flight == 0)
        throw std::invalid_argument("hash max_files_in_flight must be at least 1");
}

// Each read covers whole blocks, so a buffer is hashed without waiting for its neighbours.
std::uint32_t read_size_in_blocks(const HasherOptions& o) {
    return std::max(o.block_size, o.read_size / o.block_size * o.block_size);
}

Digest128 digest_of_zero_block(std::uint32_t size) {
    static constexpr std::byte kZeroPage[kPage]{};
    StreamingDigest d;
    for (std::uint32_t done = 0; done < size; done += kPage) d.update(kZeroPage);
    return d.digest();
}

struct FileState {
    std::uint64_t serial = 0;        // names the file in its DropCache request
    std::uint64_t token = 0;
    UniqueFd fd;
    std::uint64_t size = 0;
    ReadPlan plan;
    std::size_t range = 0;           // plan.ranges[range] holds the next read to issue
    std::uint64_t next_offset = 0;   // where that read starts
    std::deque<unsigned> reads;      // slots issued for this file, in file order
    std::optional<StreamingDigest> whole;
    std::uint64_t bytes_read = 0;
    std::optional<FileError> error;
    bool drop_done = false;          // the engine has run POSIX_FADV_DONTNEED on it

    [[nodiscard]] bool more_to_issue() const { return !error && range < plan.ranges.size(); }
    [[nodiscard]] bool reads_finished() const {
        return reads.empty() && (error || range >= plan.ranges.size());
    }
};

// user_data of DropCache requests; read requests carry their slot number, always below it.
constexpr std::uint64_t kDropTag = std::uint64_t{1} << 63;

// One buffer of the pool and the read that fills it.
struct Slot {
    FileState* file = nullptr;
    std::uint64_t offset = 0;  // file offset of the buffer's first byte
    std::uint32_t len = 0;
    std::uint32_t filled = 0;
    bool done = false;         // filled, or failed
};

}  // namespace

class Hasher::Impl {
public:
    Impl(HashSink& sink, const HasherOptions& options)
        : sink_(sink),
          opt_((validate(options), options)),
          chunk_(read_size_in_blocks(opt_)),
          per_file_cap_(opt_.max_reads_per_file != 0 ? opt_.max_reads_per_file
                                                     : std::max(1u, opt_.queue_depth / 4)),
          zero_digest_(digest_of_zero_block(opt_.block_size)),
          pool_(opt_.queue_depth, chunk_),
          slots_(opt_.queue_depth) {
        free_slots_.reserve(opt_.queue_depth);  // never reallocates: release() is noexcept
        for (unsigned i = opt_.queue_depth; i-- > 0;) free_slots_.push_back(i);
        // Room for every read plus one cache drop per retiring file.
        const unsigned entries = opt_.queue_depth + std::min(opt_.max_files_in_flight, 4096u);
        auto started = detail::start_engine(opt_.engine, entries, opt_.pread_threads);
        engine_ = std::move(started.engine);
        note_ = std::move(started.note);
    }

    ~Impl() { drain(); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    void submit(FileJob job) {
        guarded([&] {
            while (files_.size() + retiring_.size() >= opt_.max_files_in_flight) step(true);
            add_file(std::move(job));
            step(false);
        });
    }

    void finish() {
        guarded([&] {
            while (!files_.empty() || !retiring_.empty()) step(true);
        });
    }

    [[nodiscard]] EngineKind engine() const noexcept { return engine_->kind(); }
    [[nodiscard]] const std::string& note() const noexcept { return note_; }
    [[nodiscard]] const HasherOptions& options() const noexcept { return opt_; }

private:
    // A sink or engine exception leaves files half done: refuse further use, but stay
    // destructible (drain() still waits for the kernel).
    template <class F>
    void guarded(F&& body) {
        if (broken_) throw std::logic_error("rdd::hash::Hasher used after an earlier error");
        try {
            body();
        } catch (...) {
            broken_ = true;
            throw;
        }
    }

    void add_file(FileJob job) {
        auto f = std::make_unique<FileState>();
        f->serial = next_serial_++;
        f->token = job.token;
        f->fd = std::move(job.fd);
        f->size = job.size;
        f->plan = detail::plan_reads(job.size, opt_.block_size, std::move(job.skip));
        if (f->plan.complete) f->whole.emplace();
        if (!f->plan.ranges.empty()) {
            f->next_offset = f->plan.ranges.front().begin;
            // SEQUENTIAL doubles the readahead window. NOREUSE (Linux 6.3+, MGLRU) keeps pages
            // read once from being promoted, so a scan does not displace the working set; the
            // classic LRU already leaves pages touched once on its inactive list. Advice only.
            (void)::posix_fadvise(f->fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
            (void)::posix_fadvise(f->fd.get(), 0, 0, POSIX_FADV_NOREUSE);
        }
        files_.push_back(std::move(f));
    }

    // One turn of the loop: fill the queue, collect completions (waiting for one if asked),
    // hash what is ready, report finished files.
    void step(bool wait) {
        issue();
        completions_.clear();
        engine_->reap(completions_, wait && in_flight_ > 0);
        // Counted at once: if the sink throws half way, drain() must not wait for these.
        in_flight_ -= static_cast<unsigned>(completions_.size());
        for (const ReadCompletion& c : completions_) {
            complete(c);
            // Refill at once so the device is not idle while the rest of the batch is hashed.
            issue();
            engine_->submit();  // also resubmits the rest of short reads
        }
        retire_finished();
    }

    // Oldest files first, each up to per_file_cap_ reads: a big file gets a deep queue, and
    // small files behind it still overlap their latency.
    void issue() {
        for (auto& fp : files_) {
            FileState& f = *fp;
            while (!free_slots_.empty() && f.more_to_issue() && f.reads.size() < per_file_cap_)
                issue_next_read(f);
            if (free_slots_.empty()) break;
        }
    }

    void issue_next_read(FileState& f) {
        const detail::ByteRange& r = f.plan.ranges[f.range];
        const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunk_, r.end - f.next_offset));
        const unsigned id = free_slots_.back();
        free_slots_.pop_back();
        slots_[id] = Slot{&f, f.next_offset, len, 0, false};
        f.reads.push_back(id);
        f.next_offset += len;
        if (f.next_offset >= r.end && ++f.range < f.plan.ranges.size())
            f.next_offset = f.plan.ranges[f.range].begin;
        queue_read(id);
    }

    // (Re)queues the unfilled rest of a slot's read.
    void queue_read(unsigned id) {
        const Slot& s = slots_[id];
        engine_->queue({detail::ReadRequest::Op::Read, s.file->fd.get(), s.offset + s.filled,
                        pool_.buffer(id) + s.filled, s.len - s.filled, id});
        ++in_flight_;
    }

    void complete(const ReadCompletion& c) {
        if ((c.user_data & kDropTag) != 0) {  // advice only: its result does not matter
            const std::uint64_t serial = c.user_data & ~kDropTag;
            for (auto& f : retiring_)
                if (f->serial == serial) f->drop_done = true;
            return;
        }
        const auto id = static_cast<unsigned>(c.user_data);
        Slot& s = slots_[id];
        FileState& f = *s.file;
        if (!f.error) {
            if (c.result == -EAGAIN || c.result == -EINTR) {
                queue_read(id);  // nothing was read: ask again
                return;
            }
            if (c.result < 0) {
                const int err = static_cast<int>(-c.result);
                f.error = FileError{FileError::Kind::Read, err,
                                    "read at offset " + std::to_string(s.offset + s.filled) +
                                        ": " + errno_text(err)};
            } else if (c.result == 0) {
                f.error = FileError{FileError::Kind::Shrank, 0,
                                    "file shrank while being read: expected " +
                                        std::to_string(f.size) + " bytes, end of file at " +
                                        std::to_string(s.offset + s.filled)};
            } else {
                s.filled += static_cast<std::uint32_t>(c.result);
                if (s.filled < s.len) {  // short read: ask for the rest
                    queue_read(id);
                    return;
                }
            }
        }
        s.done = true;
        hash_ready(f);
    }

    // Returns a slot to the pool on scope exit, also when the sink throws.
    struct SlotRelease {
        std::vector<unsigned>& free;
        unsigned id;
        ~SlotRelease() { free.push_back(id); }  // capacity reserved: cannot throw
    };

    // Hashes the file's leading completed buffers; a later buffer waits for earlier ones.
    void hash_ready(FileState& f) {
        while (!f.reads.empty() && slots_[f.reads.front()].done) {
            const unsigned id = f.reads.front();
            f.reads.pop_front();
            SlotRelease release{free_slots_, id};
            if (!f.error) hash_buffer(f, slots_[id], pool_.buffer(id));
        }
    }

    void hash_buffer(FileState& f, const Slot& s, const std::byte* buf) {
        f.bytes_read += s.len;
        const std::uint32_t bs = opt_.block_size;
        for (std::uint32_t pos = 0; pos < s.len; pos += bs) {
            const std::span<const std::byte> block(buf + pos, std::min(bs, s.len - pos));
            BlockDigest out;
            out.token = f.token;
            out.index = (s.offset + pos) / bs;
            out.length = static_cast<std::uint32_t>(block.size());
            out.is_zero = is_all_zero(block);
            out.digest = out.is_zero && block.size() == bs ? zero_digest_ : digest_of(block);
            // Right after the block digest, while the block is still in cache.
            if (f.whole) f.whole->update(block);
            sink_.on_block(out);
        }
    }

    // Files whose reads are over move to retiring_; with drop_cache they are reported once the
    // engine has run POSIX_FADV_DONTNEED on them. Once hashed, the data is not needed again soon
    // (dedupe re-reads the few ranges it shares), and dropping it keeps a large scan from
    // evicting the machine's working set. The drop runs off this thread because it is not
    // cheap: ~0.2 s per GB of cached data on btrfs (releasing each folio), 25% of a cold scan
    // when it was done inline; retiring files do not hold a reading slot meanwhile.
    void retire_finished() {
        for (std::size_t i = 0; i < files_.size();) {
            if (!files_[i]->reads_finished()) {
                ++i;
                continue;
            }
            std::unique_ptr<FileState> f = std::move(files_[i]);
            files_.erase(files_.begin() + static_cast<std::ptrdiff_t>(i));
            if (opt_.drop_cache && f->bytes_read > 0) {
                engine_->queue({detail::ReadRequest::Op::DropCache, f->fd.get(), 0, nullptr, 0,
                                kDropTag | f->serial});
                ++in_flight_;
                retiring_.push_back(std::move(f));
            } else {
                report(*f);
            }
        }
        engine_->submit();
        for (std::size_t i = 0; i < retiring_.size();) {
            if (!retiring_[i]->drop_done) {
                ++i;
                continue;
            }
            const std::unique_ptr<FileState> f = std::move(retiring_[i]);
            retiring_.erase(retiring_.begin() + static_cast<std::ptrdiff_t>(i));
            report(*f);
        }
    }

    void report(FileState& f) {
        FileDigest d;
        d.token = f.token;
        d.bytes_read = f.bytes_read;
        if (!f.error && f.whole) d.whole = f.whole->digest();
        d.error = std::move(f.error);
        d.fd = std::move(f.fd);
        sink_.on_file_done(d);
    }

    // Waits for every read the engine still owns; buffers and fds must outlive them.
    void drain() noexcept {
        std::vector<ReadCompletion> sink;
        while (in_flight_ > 0) {
            sink.clear();
            try {
                engine_->reap(sink, true);
            } catch (...) {
                return;  // the engine's own destructor makes a last attempt
            }
            in_flight_ -= static_cast<unsigned>(sink.size());
        }
    }

    HashSink& sink_;
    HasherOptions opt_;
    std::uint32_t chunk_;
    std::uint32_t per_file_cap_;
    Digest128 zero_digest_;
    detail::BufferPool pool_;
    std::vector<Slot> slots_;
    std::vector<unsigned> free_slots_;
    std::vector<std::unique_ptr<FileState>> files_;     // being read
    std::vector<std::unique_ptr<FileState>> retiring_;  // read, cache drop in the engine
    std::vector<ReadCompletion> completions_;
    unsigned in_flight_ = 0;  // reads and cache drops the engine owns
    std::uint64_t next_serial_ = 0;
    bool broken_ = false;
    std::string note_;
    std::unique_ptr<ReadEngine> engine_;  // declared last: destroyed first, while buffers live
};

Hasher::Hasher(HashSink& sink, const HasherOptions& options)
    : impl_(std::make_unique<Impl>(sink, options)) {}
Hasher::~Hasher() = default;
void Hasher::submit(FileJob job) { impl_->submit(std::move(job)); }
void Hasher::finish() { impl_->finish(); }
EngineKind Hasher::engine() const noexcept { return impl_->engine(); }
const std::string& Hasher::engine_note() const noexcept { return impl_->note(); }
const HasherOptions& Hasher::options() const noexcept { return impl_->options(); }

}  // namespace rdd::hash
