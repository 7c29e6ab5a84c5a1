#include "catalog_sink.hpp"

#include <sys/stat.h>

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

}  // namespace

struct CatalogSink::Open {
    explicit Open(QueuedFile q, std::uint32_t block_size)
        : file(std::move(q)),
          addresses(file.extents, static_cast<std::uint64_t>(file.st.st_size), block_size) {}
    QueuedFile file;
    BlockAddresses addresses;  // views file.extents: Open never moves (held by unique_ptr)
    std::size_t next_hole = 0;
    std::uint64_t next_index = 0;
    // The content digest: XXH3-128 over the file's block digests in order (zero blocks as an
    // all-zero digest) and its size. Computable from catalogued blocks without reading data.
    hash::StreamingDigest content;
};

CatalogSink::CatalogSink(catalog::WriteBatch& batch, std::uint32_t block_size, ScanReport& report)
    : batch_(batch), block_size_(block_size), report_(report) {}

CatalogSink::~CatalogSink() = default;

void CatalogSink::expect(std::uint64_t token, QueuedFile file) {
    files_[token] = std::make_unique<Open>(std::move(file), block_size_);
}

void CatalogSink::add(Open& f, std::uint64_t index, const hash::Digest128& digest, bool zero) {
    catalog::Block b;
    b.index = index;
    b.zero = zero;
    if (!zero) {
        b.digest = to_catalog(digest);
        b.physical = f.addresses.physical(index);
    }
    batch_.add_blocks(f.file.id, std::span(&b, 1));
    const auto bytes = zero ? hash::Digest128{}.to_bytes() : digest.to_bytes();
    f.content.update(bytes);
    f.next_index = index + 1;
}

void CatalogSink::emit_zeros_until(Open& f, std::uint64_t index) {
    const auto& holes = f.file.holes;
    while (f.next_hole < holes.size() && holes[f.next_hole].first < index) {
        const BlockSpan& h = holes[f.next_hole];
        for (std::uint64_t i = std::max(h.first, f.next_index); i < h.first + h.count && i < index; ++i) {
            add(f, i, {}, true);
        }
        if (h.first + h.count > index) break;  // the rest of this hole comes after `index`
        ++f.next_hole;
    }
}

void CatalogSink::on_block(const hash::BlockDigest& block) {
    const auto it = files_.find(block.token);
    if (it == files_.end()) return;
    Open& f = *it->second;
    emit_zeros_until(f, block.index);
    add(f, block.index, block.digest, block.is_zero);
    bytes_delivered_ += block.length;
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
        emit_zeros_until(f, (size + block_size_ - 1) / block_size_);
        const auto size_bytes = hash::Digest128{0, size}.to_bytes();
        f.content.update(size_bytes);
        batch_.end_file(f.file.id, to_catalog(f.content.digest()));
        ++report_.files_hashed;
        report_.bytes_hashed += size;
    }
    files_.erase(it);
}

}  // namespace rdd
