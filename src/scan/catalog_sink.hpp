#pragma once
// Takes the hasher's digests to the catalog: blocks in order per file, with their physical
// addresses and the zero blocks of holes the hasher was told not to read, and the file's
// content digest at its end. Memory is per file in flight, never per file scanned.
#include <sys/stat.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "reflinkdedup/catalog/write_batch.hpp"
#include "reflinkdedup/hash/digest.hpp"
#include "reflinkdedup/hash/hasher.hpp"
#include "reflinkdedup/model/extent.hpp"
#include "reflinkdedup/scan/block_places.hpp"
#include "reflinkdedup/scan/scan_volumes.hpp"

namespace rdd {

// A block whose digest the catalog already holds and which still lies where it did.
struct KnownBlock {
    std::uint64_t index = 0;
    hash::Digest128 digest;
    std::uint64_t physical = 0;
};

struct QueuedFile {
    catalog::FileId id = 0;
    std::string path;                // for messages
    struct stat st {};               // as it was when queued: a change meanwhile voids the digests
    std::vector<Extent> extents;     // for physical addresses
    std::vector<BlockSpan> holes;    // blocks the hasher skips: known zeros
    std::vector<KnownBlock> known;   // blocks the hasher skips: digests kept from the catalog
};

class CatalogSink final : public hash::HashSink {
public:
    CatalogSink(catalog::WriteBatch& batch, std::uint32_t block_size, ScanReport& report);
    // Called after each file is done (progress while the hasher drains at the end of a walk).
    void on_progress(std::function<void()> callback) { progress_ = std::move(callback); }
    ~CatalogSink() override;
    CatalogSink(const CatalogSink&) = delete;
    CatalogSink& operator=(const CatalogSink&) = delete;

    // Registers a file before it is submitted to the hasher under `token`.
    void expect(std::uint64_t token, QueuedFile file);
    [[nodiscard]] std::size_t in_flight() const noexcept { return files_.size(); }
    // Bytes of blocks hashed so far, for live progress (bytes_read is counted per file).
    [[nodiscard]] std::uint64_t bytes_delivered() const noexcept { return bytes_delivered_; }
    // Known blocks held for files in flight: the scanner reads instead of reusing past a cap.
    [[nodiscard]] std::size_t known_blocks_held() const noexcept { return known_held_; }
    // Bytes whose digests were kept from the catalog instead of being read.
    [[nodiscard]] std::uint64_t bytes_reused() const noexcept { return bytes_reused_; }

    void on_block(const hash::BlockDigest& block) override;
    void on_file_done(hash::FileDigest& file) override;

private:
    struct Open;
    // Adds the skipped blocks (holes, known digests) that come before block `index`.
    void emit_skipped_until(Open& f, std::uint64_t index);
    void add(Open& f, std::uint64_t index, const hash::Digest128& digest, bool zero,
             std::uint64_t physical);
    // All-zero blocks [first, first + count) of a hole, as one run.
    void add_zeros(Open& f, std::uint64_t first, std::uint64_t count);
    void fail(Open& f, const std::string& why);
    [[nodiscard]] std::uint64_t block_length(const Open& f, std::uint64_t index) const;

    catalog::WriteBatch& batch_;
    std::uint32_t block_size_;
    ScanReport& report_;
    std::map<std::uint64_t, std::unique_ptr<Open>> files_;
    std::uint64_t bytes_delivered_ = 0;
    std::size_t known_held_ = 0;
    std::function<void()> progress_;
    std::uint64_t bytes_reused_ = 0;
};

}  // namespace rdd
