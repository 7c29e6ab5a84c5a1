#include "reflinkdedup/report/catalog_report.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace rdd::report {

namespace {

// Volume and size of the files that have duplicate blocks, looked up once each. Occurrences
// arrive in digest order, so files repeat at random: a cache, bounded like everything else.
class FileInfoCache {
public:
    explicit FileInfoCache(const catalog::Catalog& cat) : cat_(cat) {}

    struct Info {
        catalog::VolumeId volume = 0;
        std::uint64_t size = 0;
    };

    Info get(catalog::FileId id) {
        if (const auto it = cache_.find(id); it != cache_.end()) return it->second;
        if (cache_.size() >= kMaxEntries) cache_.clear();
        Info info;
        if (const auto row = cat_.file(id)) info = {row->volume, row->size};
        cache_.emplace(id, info);
        return info;
    }

private:
    static constexpr std::size_t kMaxEntries = std::size_t{1} << 20;  // ~50 MiB
    const catalog::Catalog& cat_;
    std::unordered_map<catalog::FileId, Info> cache_;
};

void add(catalog::VolumeFileCounts& to, const catalog::VolumeFileCounts& c) {
    to.files += c.files;
    to.bytes += c.bytes;
    to.hashed += c.hashed;
    to.pending += c.pending;
    to.busy += c.busy;
    to.failed += c.failed;
    to.nocow += c.nocow;
    to.zero_bytes += c.zero_bytes;
}

}  // namespace

CatalogReport build_report(const catalog::Catalog& cat, const catalog::DuplicateBlockQuery& query) {
    CatalogReport r;
    r.catalog_path = cat.path();
    r.block_size = cat.block_size();

    std::map<catalog::VolumeId, VolumeSummary> by_volume;
    for (const catalog::VolumeFileCounts& c : catalog::volume_file_counts(cat)) by_volume[c.volume].counts = c;

    std::map<std::int64_t, DuplicateTally> tallies;
    FileInfoCache files(cat);
    std::vector<GroupBlock> group;
    const std::uint64_t block = cat.block_size();
    (void)cat.for_each_duplicate_block_group(
        [&](const catalog::Digest&, std::span<const catalog::BlockOccurrence> occurrences) {
            ++r.duplicate_groups;
            group.clear();
            for (const catalog::BlockOccurrence& o : occurrences) {
                const FileInfoCache::Info f = files.get(o.file);
                const std::uint64_t start = o.index * block;
                const std::uint64_t bytes = f.size > start ? std::min(block, f.size - start) : 0;
                group.push_back({f.volume, o.physical, bytes});
            }
            tally_group(group, tallies);
            return true;
        },
        query);
    for (const auto& [volume, t] : tallies) by_volume[volume].duplicates = t;

    // The retry list: files not already counted busy by the scan add to their volume's count.
    std::vector<catalog::BusyFile> busy = catalog::busy_files(cat);
    r.busy_listed_total = busy.size();
    for (const catalog::BusyFile& b : busy) {
        const auto row = cat.file(b.file);
        if (row && row->state != catalog::FileState::busy_retry) ++by_volume[b.volume].counts.busy;
    }
    if (busy.size() > kMaxBusyListed) busy.resize(kMaxBusyListed);
    r.busy = std::move(busy);
    r.runs = catalog::run_totals(cat);
    if (r.runs.runs > 0) r.freed_bytes = r.runs.bytes_freed;

    std::map<catalog::VolumeId, catalog::Volume> listed;
    for (catalog::Volume& v : cat.volumes()) listed.emplace(v.id, std::move(v));
    for (auto& [id, summary] : by_volume) {
        summary.counts.volume = id;
        add(r.total.counts, summary.counts);
        r.total.duplicates += summary.duplicates;
        catalog::Volume v;
        v.id = id;  // files of a volume no longer listed keep its id, with no path
        if (const auto it = listed.find(id); it != listed.end()) {
            v = std::move(it->second);
            listed.erase(it);
        }
        r.volumes.push_back({std::move(v), summary});
    }
    // Volumes without files (all excluded, or empty) are listed too.
    for (auto& [id, v] : listed) {
        VolumeSummary empty;
        empty.counts.volume = id;
        r.volumes.push_back({std::move(v), empty});
    }
    std::sort(r.volumes.begin(), r.volumes.end(),
              [](const VolumeReport& a, const VolumeReport& b) { return a.summary.counts.volume < b.summary.counts.volume; });
    return r;
}

}  // namespace rdd::report
