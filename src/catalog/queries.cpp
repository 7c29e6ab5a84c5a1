// Read paths: files, volumes, a file's blocks, whole-file duplicate groups. Everything streams:
// memory is bounded by one group, never by the catalog's size.
#include <string>
#include <vector>

#include "file_rows.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/errors.hpp"

namespace rdd::catalog {

namespace {

Volume read_volume(const Statement& st) {
    Volume v;
    v.id = st.column_int(0);
    v.subvol_id = st.column_u64(1);
    v.path = std::string(st.column_text(2));
    v.last_generation = st.column_u64(3);
    v.scan_state = static_cast<ScanState>(st.column_int(4));
    v.last_epoch = st.column_int(5);
    return v;
}

constexpr std::string_view kVolumeColumns = "id, subvol_id, path, last_generation, scan_state, last_epoch";

}  // namespace

std::optional<FileRow> Catalog::find_file(const FileIdentity& identity) const {
    // Cached: the scanner asks once per inode.
    auto st = conn_.cached("SELECT " + std::string(detail::kFileColumns) +
                           " FROM file WHERE subvol = ?1 AND ino = ?2 AND gen = ?3");
    st->bind_u64(1, identity.subvol).bind_u64(2, identity.ino).bind_u64(3, identity.generation);
    if (!st->step()) return std::nullopt;
    return detail::read_file_row(*st);
}

std::optional<FileRow> Catalog::file(FileId id) const {
    auto st = conn_.cached("SELECT " + std::string(detail::kFileColumns) + " FROM file WHERE id = ?1");
    st->bind(1, id);
    if (!st->step()) return std::nullopt;
    return detail::read_file_row(*st);
}

bool Catalog::for_each_file(std::uint64_t subvol, const FileVisitor& visit) const {
    // The identity index gives inode order: a sweep in inode order (BULKSTAT, tree search)
    // can merge with it instead of looking every inode up.
    Statement st(conn_, "SELECT " + std::string(detail::kFileColumns) +
                            " FROM file WHERE subvol = ?1 ORDER BY subvol, ino, gen");
    st.bind_u64(1, subvol);
    while (st.step()) {
        if (!visit(detail::read_file_row(st))) return false;
    }
    return true;
}

std::optional<Volume> Catalog::volume(VolumeId id) const {
    Statement st(conn_, "SELECT " + std::string(kVolumeColumns) + " FROM volume WHERE id = ?1");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return read_volume(st);
}

std::vector<Volume> Catalog::volumes() const {
    Statement st(conn_, "SELECT " + std::string(kVolumeColumns) + " FROM volume ORDER BY id");
    std::vector<Volume> out;
    while (st.step()) out.push_back(read_volume(st));
    return out;
}

bool Catalog::for_each_zero_run(FileId file_id, const ZeroRunVisitor& visit) const {
    Statement st(conn_, "SELECT first_blk, blocks FROM zero_run WHERE file_id = ?1 ORDER BY first_blk");
    st.bind(1, file_id);
    while (st.step()) {
        if (!visit(ZeroRun{st.column_u64(0), st.column_u64(1)})) return false;
    }
    return true;
}

Catalog::VolumeTotals Catalog::volume_totals(VolumeId volume_id) const {
    Statement st(conn_, "SELECT count(*), coalesce(sum(size), 0) FROM file WHERE volume_id = ?1");
    st.bind(1, volume_id);
    if (!st.step()) return {};
    return {st.column_u64(0), st.column_u64(1)};
}

std::optional<std::pair<FileId, Block>> Catalog::block_at_physical(std::uint64_t physical) const {
    auto run = conn_.cached("SELECT phys, file_id, first_blk, blocks FROM extent WHERE phys <= ?1"
                            " ORDER BY phys DESC LIMIT 1");
    run->bind_u64(1, physical);
    if (!run->step()) return std::nullopt;
    const std::uint64_t start = run->column_u64(0), first = run->column_u64(2), count = run->column_u64(3);
    const FileId file = run->column_int(1);
    const std::uint64_t offset = physical - start;
    if (offset % block_size_ != 0 || offset / block_size_ >= count) return std::nullopt;
    const std::uint64_t index = first + offset / block_size_;
    // Only a full block of a hashed file: a partial last block's digest covers fewer bytes.
    auto blk = conn_.cached("SELECT b.digest, b.phys, f.size FROM block b JOIN file f ON f.id = b.file_id"
                            " WHERE b.file_id = ?1 AND b.blk = ?2 AND f.state = 1");
    blk->bind(1, file).bind_u64(2, index);
    if (!blk->step() || blk->column_u64(1) != physical) return std::nullopt;  // stale run
    if ((index + 1) * block_size_ > blk->column_u64(2)) return std::nullopt;
    return std::pair{file, Block{index, detail::column_digest(*blk, 0), physical, false}};
}

bool Catalog::for_each_block(FileId file_id, const BlockVisitor& visit) const {
    Statement blocks(conn_, "SELECT blk, digest, phys FROM block WHERE file_id = ?1 ORDER BY blk");
    Statement zeros(conn_, "SELECT first_blk, blocks FROM zero_run WHERE file_id = ?1 ORDER BY first_blk");
    blocks.bind(1, file_id);
    zeros.bind(1, file_id);
    bool have_block = blocks.step();
    bool have_zeros = zeros.step();
    // Blocks and zero runs never overlap: merge the two ordered streams.
    while (have_block || have_zeros) {
        if (have_zeros && (!have_block || zeros.column_u64(0) < blocks.column_u64(0))) {
            const std::uint64_t first = zeros.column_u64(0);
            const std::uint64_t count = zeros.column_u64(1);
            for (std::uint64_t i = 0; i < count; ++i) {
                if (!visit(Block{first + i, Digest{}, 0, true})) return false;
            }
            have_zeros = zeros.step();
        } else {
            const Block b{blocks.column_u64(0), detail::column_digest(blocks, 1), blocks.column_u64(2), false};
            if (!visit(b)) return false;
            have_block = blocks.step();
        }
    }
    return true;
}

bool Catalog::for_each_duplicate_file_group(const FileGroupVisitor& visit, const DuplicateFileQuery& query) const {
    Statement st(conn_, "SELECT " + std::string(detail::kFileColumns) +
                            " FROM file WHERE digest IS NOT NULL AND state = 1 AND size >= ?1"
                            " ORDER BY size, digest, id");
    st.bind_u64(1, query.min_size);
    std::vector<FileRow> group;
    bool has_new = false;
    const auto flush = [&]() {
        bool go_on = true;
        if (group.size() >= 2 && has_new) go_on = visit(group);
        group.clear();
        has_new = false;
        return go_on;
    };
    while (st.step()) {
        FileRow row = detail::read_file_row(st);
        if (!group.empty() && (row.size != group.front().size || row.content_digest != group.front().content_digest)) {
            if (!flush()) return false;
        }
        has_new = has_new || query.changed_since == 0 || row.hashed_epoch >= query.changed_since;
        group.push_back(std::move(row));
    }
    return flush();
}

}  // namespace rdd::catalog
