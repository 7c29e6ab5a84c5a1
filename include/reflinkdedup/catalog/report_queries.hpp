#pragma once
// Read-only totals for `reflinkdedup report`: what each volume's files are and hold. Each is
// one scan of a table (seconds at 10^8 block rows), no index needed.
#include <cstdint>
#include <vector>

#include "reflinkdedup/catalog/catalog.hpp"

namespace rdd::catalog {

struct VolumeFileCounts {
    VolumeId volume = 0;
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;          // sum of file sizes
    std::uint64_t hashed = 0;         // FileState::hashed
    std::uint64_t pending = 0;        // metadata only, not hashed yet
    std::uint64_t busy = 0;           // in write use when scanned: retried next run
    std::uint64_t failed = 0;         // could not be read
    std::uint64_t nocow = 0;          // hashed, but btrfs NOCOW: cannot share with COW files
    std::uint64_t zero_bytes = 0;     // all-zero blocks (stored as runs), clipped at each file's end
};

// One entry per volume id that has files, in volume id order.
[[nodiscard]] std::vector<VolumeFileCounts> volume_file_counts(const Catalog& cat);

}  // namespace rdd::catalog
