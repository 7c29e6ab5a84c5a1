#include "reflinkdedup/plan/dedupe_length.hpp"

#include <algorithm>

namespace rdd {

std::optional<DedupeLength> dedupe_length(const RangeSpec& r, std::uint64_t block_size) {
    if (block_size == 0 || (block_size & (block_size - 1)) != 0) return std::nullopt;
    if (r.src_offset % block_size != 0 || r.dst_offset % block_size != 0) return std::nullopt;
    if (r.src_offset >= r.src_size || r.dst_offset >= r.dst_size) return std::nullopt;

    const std::uint64_t len =
        std::min({r.length, r.src_size - r.src_offset, r.dst_size - r.dst_offset});
    DedupeLength out;
    out.reaches_eof = r.src_offset + len == r.src_size && r.dst_offset + len == r.dst_size;
    out.request = out.reaches_eof ? len : len - len % block_size;
    out.effective = out.request;
    if (out.request == 0) return std::nullopt;
    return out;
}

}  // namespace rdd
