// Duplicate block groups without a digest index (see schema.cpp for why): a sequential scan
// of block feeds an external sort; for a nightly run, only the occurrences of digests written
// since an epoch are kept (probe), so the sort stays small. Memory is bounded by the query's
// sort_memory and probe_limit plus the largest group, never by the catalog's size.
#include <string>
#include <vector>

#include "digest_set.hpp"
#include "external_sort.hpp"
#include "file_rows.hpp"
#include "reflinkdedup/catalog/catalog.hpp"

namespace rdd::catalog {

namespace {

using detail::SortRecord;

// Turns records sorted by (digest, file, index) into groups of two or more occurrences that
// contain a new one.
class GroupBuilder {
public:
    explicit GroupBuilder(const BlockGroupVisitor& visit) : visit_(visit) {}

    bool add(const SortRecord& r) {
        if (!occurrences_.empty() && r.digest != digest_ && !flush()) return false;
        digest_ = r.digest;
        occurrences_.push_back(BlockOccurrence{r.file, r.index & ~SortRecord::kNewBit, r.physical});
        has_new_ = has_new_ || (r.index & SortRecord::kNewBit) != 0;
        return true;
    }

    bool flush() {
        bool go_on = true;
        if (occurrences_.size() >= 2 && has_new_) go_on = visit_(digest_, occurrences_);
        occurrences_.clear();
        has_new_ = false;
        return go_on;
    }

private:
    const BlockGroupVisitor& visit_;
    Digest digest_;
    std::vector<BlockOccurrence> occurrences_;
    bool has_new_ = false;
};

SortRecord read_record(const Statement& st, bool is_new) {
    return SortRecord{detail::column_digest(st, 0), st.column_int(1),
                      st.column_u64(2) | (is_new ? SortRecord::kNewBit : 0), st.column_u64(3)};
}

std::filesystem::path temp_dir_for(const Catalog& c, const DuplicateBlockQuery& q) {
    if (!q.temp_dir.empty()) return q.temp_dir;
    const auto dir = std::filesystem::path(c.path()).parent_path();
    return dir.empty() ? std::filesystem::path(".") : dir;
}

bool emit(detail::ExternalSorter& sorter, const BlockGroupVisitor& visit) {
    GroupBuilder groups(visit);
    return sorter.drain([&](const SortRecord& r) { return groups.add(r); }) && groups.flush();
}

}  // namespace

bool Catalog::for_each_duplicate_block_group(const BlockGroupVisitor& visit, const DuplicateBlockQuery& query) const {
    using Method = DuplicateBlockQuery::Method;
    if (query.method == Method::sort || (query.method == Method::automatic && query.changed_since <= 0)) {
        return duplicate_groups_by_sort(visit, query);
    }
    return duplicate_groups_by_probe(visit, query);
}

bool Catalog::duplicate_groups_by_sort(const BlockGroupVisitor& visit, const DuplicateBlockQuery& query) const {
    detail::ExternalSorter sorter(temp_dir_for(*this, query), query.sort_memory);
    if (query.changed_since <= 0) {
        Statement scan(conn_, "SELECT digest, file_id, blk, phys FROM block");
        while (scan.step()) sorter.add(read_record(scan, true));
    } else {
        // Both tables are in file id order: walk them in step instead of joining row by row
        // (a lookup per block row doubles the time of the scan).
        Statement files(conn_, "SELECT id, hashed_epoch >= ?1 FROM file ORDER BY id");
        files.bind(1, query.changed_since);
        Statement scan(conn_, "SELECT digest, file_id, blk, phys FROM block");
        bool have_file = files.step();
        while (scan.step()) {
            const FileId file_id = scan.column_int(1);
            while (have_file && files.column_int(0) < file_id) have_file = files.step();
            const bool is_new = have_file && files.column_int(0) == file_id && files.column_int(1) != 0;
            sorter.add(read_record(scan, is_new));
        }
    }
    return emit(sorter, visit);
}

bool Catalog::duplicate_groups_by_probe(const BlockGroupVisitor& visit, const DuplicateBlockQuery& query) const {
    detail::DigestSet wanted;
    {
        // IN (subquery): SQLite walks the changed files and seeks their block ranges.
        Statement changed(conn_,
                          "SELECT digest FROM block WHERE file_id IN (SELECT id FROM file WHERE hashed_epoch >= ?1)");
        changed.bind(1, query.changed_since);
        while (changed.step()) {
            wanted.insert(detail::column_digest(changed, 0));
            // Too many changes for memory: the sort gives the same answer in bounded memory.
            if (wanted.size() > query.probe_limit) return duplicate_groups_by_sort(visit, query);
        }
    }
    if (wanted.size() == 0) return true;
    wanted.build_filter();

    detail::ExternalSorter sorter(temp_dir_for(*this, query), query.sort_memory);
    {
        // Scoped: the read snapshot ends before the visitor runs (it would hold back checkpoints).
        Statement scan(conn_, "SELECT digest, file_id, blk, phys FROM block");
        while (scan.step()) {
            const auto bytes = scan.column_blob(0);
            if (bytes.size() != 16 || !wanted.contains(Digest::from_bytes(bytes.data()))) continue;
            // Every group of a wanted digest has an occurrence in a changed file.
            sorter.add(read_record(scan, true));
        }
    }
    return emit(sorter, visit);
}

}  // namespace rdd::catalog
