#pragma once
// Streaming block hasher: files go in (fd + size + token), per-block and per-file XXH3-128
// digests come out through a sink, with bounded memory whatever the number or size of files.
//
// Single-threaded from the caller's view: submit() and finish() run the I/O loop and call the
// sink on the calling thread. Many files are read at once (so small files do not serialize on
// latency); blocks of one file reach the sink in ascending order; files finish in any order.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reflinkdedup/hash/digest.hpp"
#include "reflinkdedup/hash/read_engine_kind.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd::hash {

// Blocks [first, first + count) of a file, in units of HasherOptions::block_size.
struct BlockRange {
    std::uint64_t first = 0;
    std::uint64_t count = 0;
};

struct FileJob {
    UniqueFd fd;                    // readable; owned by the hasher, handed back in FileDigest
    std::uint64_t size = 0;         // bytes to hash (from the caller's fstat)
    std::uint64_t token = 0;        // opaque, echoed in every callback for this file
    std::vector<BlockRange> skip;   // blocks not to read (already known); any order, may overlap
};

struct BlockDigest {
    std::uint64_t token = 0;
    std::uint64_t index = 0;        // block number: byte offset / block_size
    std::uint32_t length = 0;       // block_size, or less for the file's last block
    bool is_zero = false;           // all bytes zero (digest is still the real XXH3 of them)
    Digest128 digest;
};

struct FileError {
    enum class Kind {
        Read,    // a read failed: err is the errno (EIO, EBADF, ...)
        Shrank,  // end of file came before `size` bytes: err is 0
    };
    Kind kind = Kind::Read;
    int err = 0;
    std::string message;  // "read at offset 4096: Input/output error", "file shrank: ..."
};

struct FileDigest {
    std::uint64_t token = 0;
    // XXH3-128 of all `size` bytes; nullopt when skip ranges left blocks unread, or on error.
    std::optional<Digest128> whole;
    std::uint64_t bytes_read = 0;   // bytes actually read (skipped blocks are not read)
    std::optional<FileError> error; // blocks already delivered for this file are then suspect
    UniqueFd fd;                    // the job's fd back (fstat it to see whether the file changed)
};

class HashSink {
public:
    virtual ~HashSink() = default;
    virtual void on_block(const BlockDigest& block) = 0;
    // Called once per submitted file, after all its blocks. May move `file.fd` out; whatever
    // is left is closed when the call returns.
    virtual void on_file_done(FileDigest& file) = 0;
};

struct HasherOptions {
    std::uint32_t block_size = 128 * 1024;   // multiple of 4096
    EngineChoice engine = EngineChoice::Auto;
    // Memory: queue_depth buffers of read_size bytes (32 MiB by default), allocated once.
    std::uint32_t queue_depth = 64;          // reads in flight = buffers in the pool
    std::uint32_t read_size = 512 * 1024;    // bytes per read, rounded down to whole blocks
    std::uint32_t max_files_in_flight = 64;  // files (fds) held by the hasher; submit() waits
    std::uint32_t max_reads_per_file = 0;    // 0: queue_depth / 4, so big files share the queue
    std::uint32_t pread_threads = 8;         // pread engine only
    // POSIX_FADV_DONTNEED on each file once hashed (run by the engine, off the I/O loop). Off by
    // default: measured +25-40% scan time on btrfs (releasing cached folios costs ~0.2 s/GB of
    // CPU), while the kernel already keeps pages read once on its inactive list (and NOREUSE is
    // advised), and a dedupe right after the scan profits from the data still being cached.
    bool drop_cache = false;
};

// Reads engine choice from the environment: RDD_IO=pread -> Pread, RDD_IO=io_uring -> IoUring,
// unset/"" -> `fallback`. Other values throw std::invalid_argument.
[[nodiscard]] EngineChoice engine_choice_from_env(EngineChoice fallback = EngineChoice::Auto);

class Hasher {
public:
    // Throws std::invalid_argument for bad options, SysError when no engine can start.
    // With EngineChoice::Auto the RDD_IO environment variable is honoured.
    Hasher(HashSink& sink, const HasherOptions& options = {});
    ~Hasher();  // waits for reads still in flight (never frees a buffer the kernel writes to)
    Hasher(const Hasher&) = delete;
    Hasher& operator=(const Hasher&) = delete;

    // Queues a file; may run the I/O loop (and call the sink) until there is room for it.
    void submit(FileJob job);
    // Runs until every submitted file has been reported.
    void finish();

    [[nodiscard]] EngineKind engine() const noexcept;
    // Why io_uring is not in use ("RDD_IO=pread", "io_uring_queue_init: Operation not
    // permitted"), or "" when it is.
    [[nodiscard]] const std::string& engine_note() const noexcept;
    [[nodiscard]] const HasherOptions& options() const noexcept;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rdd::hash
