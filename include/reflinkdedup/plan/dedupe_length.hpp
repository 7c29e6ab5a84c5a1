#pragma once
// How much of a range FIDEDUPERANGE will really share. The kernel echoes the requested length
// in bytes_deduped whatever it did, so the rules are applied here, before the call:
// - both offsets must be multiples of the block size;
// - the source range may never pass the source EOF (that fails the whole call), nor the
//   destination range the destination EOF (that fails the destination);
// - a length that is not a multiple of the block size is rounded down, unless both ranges end
//   exactly at their file's EOF, in which case the partial last block is shared too.
#include <cstdint>
#include <optional>

namespace rdd {

struct RangeSpec {
    std::uint64_t src_offset = 0;
    std::uint64_t dst_offset = 0;
    std::uint64_t length = 0;    // wanted length
    std::uint64_t src_size = 0;  // file sizes at planning time
    std::uint64_t dst_size = 0;
};

struct DedupeLength {
    std::uint64_t request = 0;   // the length to put in the ioctl
    std::uint64_t effective = 0; // the bytes the kernel shares for it (== request here)
    bool reaches_eof = false;    // the range ends at both files' EOF (partial tail included)
};

// nullopt when the range cannot be deduped at all (misaligned offsets, block size 0 or not a
// power of two, offset beyond EOF, or nothing left after rounding).
[[nodiscard]] std::optional<DedupeLength> dedupe_length(const RangeSpec& r,
                                                        std::uint64_t block_size);

}  // namespace rdd
