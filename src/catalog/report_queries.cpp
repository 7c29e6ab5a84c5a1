// Totals per volume for the report. Two grouped scans (file; zero_run joined to file by its
// primary key) instead of one query per volume: the file table has no index on volume_id.
#include "reflinkdedup/catalog/report_queries.hpp"

#include <map>

namespace rdd::catalog {

std::vector<VolumeFileCounts> volume_file_counts(const Catalog& cat) {
    std::map<VolumeId, VolumeFileCounts> by_volume;
    Statement files(cat.connection(),
                    "SELECT volume_id, state, count(*), coalesce(sum(size), 0) FROM file GROUP BY volume_id, state");
    while (files.step()) {
        VolumeFileCounts& c = by_volume[files.column_int(0)];
        c.volume = files.column_int(0);
        const std::uint64_t n = files.column_u64(2);
        c.files += n;
        c.bytes += files.column_u64(3);
        switch (static_cast<FileState>(files.column_int(1))) {
            case FileState::hashed: c.hashed += n; break;
            case FileState::pending: c.pending += n; break;
            case FileState::busy_retry: c.busy += n; break;
            case FileState::failed: c.failed += n; break;
            case FileState::nocow: c.nocow += n; break;
        }
    }
    // A zero run may end in the file's partial last block: count only bytes before EOF.
    Statement zeros(cat.connection(),
                    "SELECT f.volume_id, coalesce(sum(max(0, min(z.blocks * ?1, f.size - z.first_blk * ?1))), 0)"
                    " FROM zero_run z JOIN file f ON f.id = z.file_id GROUP BY f.volume_id");
    zeros.bind(1, static_cast<std::int64_t>(cat.block_size()));
    while (zeros.step()) {
        VolumeFileCounts& c = by_volume[zeros.column_int(0)];
        c.volume = zeros.column_int(0);
        c.zero_bytes += zeros.column_u64(1);
    }
    std::vector<VolumeFileCounts> out;
    out.reserve(by_volume.size());
    for (auto& [id, c] : by_volume) out.push_back(c);
    return out;
}

}  // namespace rdd::catalog
