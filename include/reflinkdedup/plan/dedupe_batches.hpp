#pragma once
// Turning "share this source range with that destination range" requests into FIDEDUPERANGE
// calls that respect the kernel's limits: one source range and length per call, at most 127
// destinations, at most 1 GiB.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "reflinkdedup/plan/kernel_limits.hpp"

namespace rdd {

struct DedupeRequest {
    std::size_t dest = 0;  // caller's index of the destination file
    std::uint64_t src_offset = 0;
    std::uint64_t dst_offset = 0;
    std::uint64_t length = 0;  // already an effective length (see dedupe_length.hpp)
    friend bool operator==(const DedupeRequest&, const DedupeRequest&) = default;
};

struct DedupeDest {
    std::size_t dest = 0;
    std::uint64_t dst_offset = 0;
    friend bool operator==(const DedupeDest&, const DedupeDest&) = default;
};

struct DedupeCall {
    std::uint64_t src_offset = 0;
    std::uint64_t length = 0;
    std::vector<DedupeDest> dests;
    friend bool operator==(const DedupeCall&, const DedupeCall&) = default;
};

struct BatchLimits {
    std::uint32_t max_dests = kMaxDedupeDestinations;
    std::uint64_t max_bytes = kMaxDedupeBytes;  // must be a multiple of the block size
};

// Splits requests longer than max_bytes (every piece but the last a whole number of
// max_bytes), then groups pieces with the same source range into calls of at most max_dests
// destinations. Calls come out ordered by source offset, then length; destinations keep
// request order.
[[nodiscard]] std::vector<DedupeCall> batch_requests(std::span<const DedupeRequest> requests,
                                                     const BatchLimits& limits = {});

}  // namespace rdd
