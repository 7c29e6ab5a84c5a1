#pragma once
// Sorting block occurrences by (digest, file, index) in bounded memory: records stay in memory
// up to a budget; past it they are partitioned by digest byte into unnamed temporary files
// (O_TMPFILE: nothing is left behind by a crash), each partition is then sorted in memory
// (or partitioned again by the next byte if still too large) and streamed out in order.
// A scan plus this sort is several times faster than SQLite's ORDER BY on the same rows.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "reflinkdedup/catalog/types.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd::catalog::detail {

struct SortRecord {
    Digest digest;
    std::int64_t file = 0;
    std::uint64_t index = 0;  // top bit: the occurrence is "new" (see kNewBit)
    std::uint64_t physical = 0;

    static constexpr std::uint64_t kNewBit = std::uint64_t{1} << 63;
};
static_assert(sizeof(SortRecord) == 40);

class ExternalSorter {
public:
    // temp_dir: where partitions spill (the catalog's private directory by default).
    ExternalSorter(std::filesystem::path temp_dir, std::size_t memory_bytes);
    ExternalSorter(const ExternalSorter&) = delete;
    ExternalSorter& operator=(const ExternalSorter&) = delete;
    ~ExternalSorter();

    void add(const SortRecord& record);
    // Streams every record in order; false if `visit` stopped it. Call once.
    bool drain(const std::function<bool(const SortRecord&)>& visit);

private:
    struct Partition;
    void spill();
    bool drain_partition(Partition& part, int depth, const std::function<bool(const SortRecord&)>& visit);
    void split(Partition& part, int depth, std::vector<Partition>& out);

    std::filesystem::path temp_dir_;
    std::size_t max_records_;
    std::vector<SortRecord> memory_;
    std::vector<Partition> partitions_;  // empty while everything fits in memory
};

}  // namespace rdd::catalog::detail
