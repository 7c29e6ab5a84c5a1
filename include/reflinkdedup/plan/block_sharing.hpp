#pragma once
// Block-by-block view of two aligned file ranges, from their FIEMAP extents: which blocks
// already point at the same disk bytes (nothing to do), which destination blocks are holes
// (nothing to free), and which are candidates for sharing.
#include <cstdint>
#include <span>
#include <vector>

#include "reflinkdedup/model/extent.hpp"

namespace rdd {

enum class BlockState : std::uint8_t {
    Candidate,      // may be shared if the bytes are equal
    AlreadyShared,  // source and destination map to the same disk bytes
    DestinationHole // destination allocates nothing there: sharing cannot free space
};

struct AlignedRanges {
    std::uint64_t src_offset = 0;
    std::uint64_t dst_offset = 0;
    std::uint64_t length = 0;  // the last block may be partial
};

// One state per block of `r` (ceil(length / block_size) entries). Extents must be sorted by
// logical offset, as FIEMAP returns them.
[[nodiscard]] std::vector<BlockState> classify_blocks(std::span<const Extent> src,
                                                      std::span<const Extent> dst,
                                                      const AlignedRanges& r,
                                                      std::uint64_t block_size);

// Bytes of `r` whose destination maps to the same disk bytes as the source (what FIEMAP
// verifies after a dedupe).
[[nodiscard]] std::uint64_t shared_bytes(std::span<const Extent> src, std::span<const Extent> dst,
                                         const AlignedRanges& r, std::uint64_t block_size);

}  // namespace rdd
