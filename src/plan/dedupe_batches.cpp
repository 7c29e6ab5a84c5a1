#include "reflinkdedup/plan/dedupe_batches.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <utility>

namespace rdd {

std::vector<DedupeCall> batch_requests(std::span<const DedupeRequest> requests,
                                       const BatchLimits& limits) {
    if (limits.max_dests == 0 || limits.max_bytes == 0) {
        throw std::invalid_argument("batch_requests: limits must be positive");
    }
    // (src_offset, length) -> destinations, in request order.
    std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<DedupeDest>> groups;
    for (const DedupeRequest& r : requests) {
        for (std::uint64_t done = 0; done < r.length;) {
            const std::uint64_t piece = std::min(limits.max_bytes, r.length - done);
            groups[{r.src_offset + done, piece}].push_back({r.dest, r.dst_offset + done});
            done += piece;
        }
    }
    std::vector<DedupeCall> calls;
    for (auto& [key, dests] : groups) {
        for (std::size_t i = 0; i < dests.size(); i += limits.max_dests) {
            const std::size_t end = std::min(dests.size(), i + limits.max_dests);
            DedupeCall call{key.first, key.second, {}};
            call.dests.assign(dests.begin() + static_cast<std::ptrdiff_t>(i),
                              dests.begin() + static_cast<std::ptrdiff_t>(end));
            calls.push_back(std::move(call));
        }
    }
    return calls;
}

}  // namespace rdd
