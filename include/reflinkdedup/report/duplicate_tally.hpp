#pragma once
// How much of a group of identical blocks is stored more than once. Pure.
//
// Within one group (occurrences of one digest, in catalog order), each distinct physical
// address is one stored copy. The first copy stays; every further copy is "duplicate" (what
// sharing can still free); an occurrence at an address already seen is "shared" (a reflink,
// a snapshot, an earlier dedupe). An unknown address (0) counts as a copy of its own. Bytes
// go to the volume of the occurrence, so per-volume figures add up to the total.
#include <cstdint>
#include <map>
#include <span>

namespace rdd::report {

struct GroupBlock {
    std::int64_t volume = 0;
    std::uint64_t physical = 0;  // 0 = unknown
    std::uint64_t bytes = 0;     // bytes the block holds (less than the block size at a file's end)
};

struct DuplicateTally {
    std::uint64_t duplicate_bytes = 0;
    std::uint64_t shared_bytes = 0;

    DuplicateTally& operator+=(const DuplicateTally& o) noexcept {
        duplicate_bytes += o.duplicate_bytes;
        shared_bytes += o.shared_bytes;
        return *this;
    }
    friend bool operator==(const DuplicateTally&, const DuplicateTally&) = default;
};

// Adds one group's bytes to per_volume[volume].
void tally_group(std::span<const GroupBlock> group, std::map<std::int64_t, DuplicateTally>& per_volume);

}  // namespace rdd::report
