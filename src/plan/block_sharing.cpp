#include "reflinkdedup/plan/block_sharing.hpp"

#include <algorithm>

namespace rdd {

namespace {

// Walks a sorted extent list with monotonically increasing positions.
class ExtentCursor {
public:
    explicit ExtentCursor(std::span<const Extent> extents) : extents_(extents) {}

    // The extent containing pos, or nullptr for a hole.
    const Extent* at(std::uint64_t pos) {
        while (next_ < extents_.size() && extents_[next_].end() <= pos) ++next_;
        if (next_ < extents_.size() && extents_[next_].logical <= pos) return &extents_[next_];
        return nullptr;
    }

private:
    std::span<const Extent> extents_;
    std::size_t next_ = 0;
};

// Whether [s_pos, +len) of the source and [d_pos, +len) of the destination are the same disk
// bytes. Encoded (compressed) extents are not linear, so for them only an identical reference
// to the same extent counts.
bool same_disk_bytes(const Extent& s, std::uint64_t s_pos, const Extent& d, std::uint64_t d_pos,
                     std::uint64_t len) {
    if (!s.has_address() || !d.has_address()) return false;
    if (s_pos + len > s.end() || d_pos + len > d.end()) return false;
    const std::uint64_t s_in = s_pos - s.logical;
    const std::uint64_t d_in = d_pos - d.logical;
    if (s.encoded || d.encoded) {
        return s.encoded && d.encoded && s.physical == d.physical && s.length == d.length &&
               s_in == d_in;
    }
    return s.physical + s_in == d.physical + d_in;
}

}  // namespace

std::vector<BlockState> classify_blocks(std::span<const Extent> src, std::span<const Extent> dst,
                                        const AlignedRanges& r, std::uint64_t block_size) {
    std::vector<BlockState> states;
    if (block_size == 0) return states;
    states.reserve(static_cast<std::size_t>((r.length + block_size - 1) / block_size));
    ExtentCursor sc(src), dc(dst);
    for (std::uint64_t off = 0; off < r.length; off += block_size) {
        const std::uint64_t len = std::min(block_size, r.length - off);
        if (dc.at(r.dst_offset + off) == nullptr) {
            states.push_back(BlockState::DestinationHole);
            continue;
        }
        // A block may span several extents (they have the filesystem's granularity, not ours):
        // shared only if every piece is.
        BlockState state = BlockState::AlreadyShared;
        for (std::uint64_t done = 0; done < len;) {
            const std::uint64_t s_pos = r.src_offset + off + done, d_pos = r.dst_offset + off + done;
            const Extent* s = sc.at(s_pos);
            const Extent* d = dc.at(d_pos);
            const std::uint64_t piece =
                s == nullptr || d == nullptr ? 0 : std::min({len - done, s->end() - s_pos, d->end() - d_pos});
            if (piece == 0 || !same_disk_bytes(*s, s_pos, *d, d_pos, piece)) {
                state = BlockState::Candidate;
                break;
            }
            done += piece;
        }
        states.push_back(state);
    }
    return states;
}

std::uint64_t shared_bytes(std::span<const Extent> src, std::span<const Extent> dst,
                           const AlignedRanges& r, std::uint64_t block_size) {
    const auto states = classify_blocks(src, dst, r, block_size);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < states.size(); ++i) {
        if (states[i] != BlockState::AlreadyShared) continue;
        const std::uint64_t off = i * block_size;
        total += std::min(block_size, r.length - off);
    }
    return total;
}

}  // namespace rdd
