#include "catalog_sink.hpp"

#include <sys/stat.h>

#include <algorithm>

#include "reflinkdedup/catalog/types.hpp"

namespace rdd {

namespace {

catalog::Digest to_catalog(const hash::Digest128& d) { return {d.high, d.low}; }

bool same_version(const struct stat& a, const struct stat& b) {
    return a.st_ino == b.st_ino && a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
           a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ctim.tv_sec == b.st_ctim.tv_sec &&
           a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

constexpr std::size_t kMaxErrorsListed = 100;
constexpr std::uint64_t kDigestBytes = 16;  // one block's share of the content digest

}  // namespace

struct CatalogSink::Open {
    explicit Open(QueuedFile q, std::uint32_t block_size)
        : file(std::move(q)),
          addresses(file.extents, static_cast<std::uint64_t>(file.st.st_size), block_size) {}
    QueuedFile file;
    BlockAddresses addresses;  // views file.extents: Open never moves (held by unique_ptr)
    std::size_t next_hole = 0;
    std::size_t next_known = 0;
    std::uint64_t next_index = 0;
    // The content digest: XXH3-128 over the file's block digests in order (zero blocks as an
    // all-zero digest) and its size. Computable from catalogued blocks without reading data.
    hash::StreamingDigest content;
};

CatalogSink::CatalogSink(catalog::WriteBatch& batch, std::uint32_t block_size, ScanReport& report)
    : batch_(batch), block_size_(block_size), report_(report) {}

CatalogSink::~CatalogSink() = default;

void CatalogSink::expect(std::uint64_t token, QueuedFile file) {
    known_held_ += file.known.size();
    files_[token] = std::make_unique<Open>(std::move(file), block_size_);
}

void CatalogSink::add(Open& f, std::uint64_t index, const hash::Digest128& digest, bool zero,
                      std::uint64_t physical) {
    catalog::Block b;
    b.index = index;
    b.zero = zero;
    if (!zero) {
        b.digest = to_catalog(digest);
        b.physical = physical;
    }
    batch_.add_blocks(f.file.id, std::span(&b, 1));
    const auto bytes = zero ? hash::Digest128{}.to_bytes() : digest.to_bytes();
    f.content.update(bytes);
    f.next_index = index + 1;
}

void CatalogSink::add_zeros(Open& f, std::uint64_t first, std::uint64_t count) {
    batch_.add_zero_blocks(f.file.id, first, count);
    f.content.update_zeros(count * kDigestBytes);
    f.next_index = first + count;
}

void CatalogSink::emit_skipped_until(Open& f, std::uint64_t index) {
    const auto& holes = f.file.holes;
    const auto& known = f.file.known;
    for (;;) {
        // The next skipped block: the smaller of the next hole block and the next known block.
        while (f.next_hole < holes.size() && holes[f.next_hole].first + holes[f.next_hole].count <= f.next_index) {
            ++f.next_hole;
        }
        const std::uint64_t hole_next =
            f.next_hole < holes.size() ? std::max(holes[f.next_hole].first, f.next_index) : UINT64_MAX;
        const std::uint64_t known_next = f.next_known < known.size() ? known[f.next_known].index : UINT64_MAX;
        const std::uint64_t next = std::min(hole_next, known_next);
        if (next >= index) return;
        if (next == known_next) {
            const KnownBlock& k = known[f.next_known++];
            add(f, k.index, k.digest, false, k.physical);
            bytes_reused_ += block_length(f, k.index);
        } else {
            // A hole is one run, not a step per block: a terabyte of it costs what a block does.
            const BlockSpan& h = holes[f.next_hole];
            const std::uint64_t end = std::min({h.first + h.count, known_next, index});
            add_zeros(f, next, end - next);
        }
    }
}

std::uint64_t CatalogSink::block_length(const Open& f, std::uint64_t index) const {
    const auto size = static_cast<std::uint64_t>(f.file.st.st_size);
    return std::min<std::uint64_t>(block_size_, size - index * block_size_);
}

void CatalogSink::on_block(const hash::BlockDigest& block) {
    const auto it = files_.find(block.token);
    if (it == files_.end()) return;
    Open& f = *it->second;
    emit_skipped_until(f, block.index);
    add(f, block.index, block.digest, block.is_zero, block.is_zero ? 0 : f.addresses.physical(block.index));
    bytes_delivered_ += block.length;
    if (progress_) progress_();  // throttled by the caller; big files show progress too
}

void CatalogSink::fail(Open& f, const std::string& why) {
    batch_.abort_file(f.file.id, catalog::FileState::failed);
    ++report_.error_count;
    if (report_.errors.size() < kMaxErrorsListed) report_.errors.push_back(f.file.path + ": " + why);
}

void CatalogSink::on_file_done(hash::FileDigest& done) {
    const auto it = files_.find(done.token);
    if (it == files_.end()) return;
    Open& f = *it->second;
    report_.bytes_read += done.bytes_read;
    struct stat now {};
    if (done.error) {
        fail(f, done.error->message);
    } else if (::fstat(done.fd.get(), &now) != 0 || !same_version(now, f.file.st)) {
        // Written while we read it: the digests may mix old and new data. Next run retries.
        batch_.abort_file(f.file.id, catalog::FileState::busy_retry);
        ++report_.skipped["changed while being read"];
    } else {
        const std::uint64_t size = static_cast<std::uint64_t>(f.file.st.st_size);
        emit_skipped_until(f, (size + block_size_ - 1) / block_size_);
        const auto size_bytes = hash::Digest128{0, size}.to_bytes();
        f.content.update(size_bytes);
        batch_.end_file(f.file.id, to_catalog(f.content.digest()));
        ++report_.files_hashed;
        report_.bytes_hashed += size;
    }
    known_held_ -= f.file.known.size();
    files_.erase(it);
    if (progress_) progress_();
}

}  // namespace rdd
