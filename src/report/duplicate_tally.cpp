#include "reflinkdedup/report/duplicate_tally.hpp"

#include <unordered_set>

namespace rdd::report {

void tally_group(std::span<const GroupBlock> group, std::map<std::int64_t, DuplicateTally>& per_volume) {
    std::unordered_set<std::uint64_t> places;  // distinct known addresses seen so far
    bool first = true;
    for (const GroupBlock& b : group) {
        DuplicateTally& t = per_volume[b.volume];
        if (b.physical != 0 && places.contains(b.physical)) {
            t.shared_bytes += b.bytes;
        } else {
            if (!first) t.duplicate_bytes += b.bytes;
            if (b.physical != 0) places.insert(b.physical);
        }
        first = false;
    }
}

}  // namespace rdd::report
