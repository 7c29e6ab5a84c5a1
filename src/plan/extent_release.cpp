#include "reflinkdedup/plan/extent_release.hpp"

#include <algorithm>
#include <map>

namespace rdd {

namespace {

std::uint64_t round_up(std::uint64_t n, std::uint64_t unit) { return unit == 0 ? n : (n + unit - 1) / unit * unit; }

bool overlaps(const ByteRange& a, const ByteRange& b) { return a.offset < b.end() && b.offset < a.end(); }

bool any_overlap(std::span<const ByteRange> sorted, const ByteRange& r) {
    // The first range ending after r starts is the only candidate that can overlap it first.
    const auto it = std::upper_bound(sorted.begin(), sorted.end(), r.offset,
                                     [](std::uint64_t pos, const ByteRange& x) { return pos < x.end(); });
    return it != sorted.end() && overlaps(*it, r);
}

struct ExtentUse {
    std::uint64_t disk_bytes = 0;
    std::uint64_t ram_bytes = 0;
    bool movable = true;
    std::vector<ExtentRef> refs;  // the file's references to it
};

// The parts of the references not remapped, each with its place in the extent.
std::vector<MovePiece> move_pieces(const ExtentUse& use, std::span<const ByteRange> remapped) {
    std::vector<MovePiece> out;
    for (const ExtentRef& ref : use.refs) {
        const ByteRange whole{ref.file_offset, ref.length};
        for (const ByteRange& s : subtract(std::span(&whole, 1), remapped)) {
            out.push_back({s.offset, ref.extent_offset + (s.offset - ref.file_offset), s.length});
        }
    }
    std::sort(out.begin(), out.end(), [](const MovePiece& a, const MovePiece& b) { return a.file_offset < b.file_offset; });
    return out;
}

// Bytes the new extent of a move allocates: the extent bytes the pieces use, once, in whole
// blocks, zeros left out, scaled by the old extent's compression ratio (the copy is written
// through the filesystem, compressed alike).
std::uint64_t move_cost(std::span<const MovePiece> pieces, std::span<const ByteRange> zeros, const ExtentUse& use,
                        std::uint64_t block_size) {
    std::vector<ByteRange> used;  // in extent coordinates
    for (const MovePiece& p : pieces) {
        const ByteRange file{p.file_offset, p.length};
        for (const ByteRange& s : subtract(std::span(&file, 1), zeros)) {
            used.push_back({p.extent_offset + (s.offset - p.file_offset), s.length});
        }
    }
    std::uint64_t logical = 0;
    for (const ByteRange& r : normalized(std::move(used))) logical += round_up(r.length, block_size);
    if (use.ram_bytes == 0 || use.ram_bytes == use.disk_bytes) return logical;
    const auto scaled = static_cast<unsigned __int128>(logical) * use.disk_bytes / use.ram_bytes;
    return round_up(static_cast<std::uint64_t>(scaled), block_size);
}

}  // namespace

std::vector<ByteRange> normalized(std::vector<ByteRange> ranges) {
    std::erase_if(ranges, [](const ByteRange& r) { return r.length == 0; });
    std::sort(ranges.begin(), ranges.end(), [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
    std::vector<ByteRange> out;
    for (const ByteRange& r : ranges) {
        if (!out.empty() && r.offset <= out.back().end()) {
            out.back().length = std::max(out.back().end(), r.end()) - out.back().offset;
        } else {
            out.push_back(r);
        }
    }
    return out;
}

std::vector<ByteRange> subtract(std::span<const ByteRange> a, std::span<const ByteRange> b) {
    std::vector<ByteRange> out;
    std::size_t j = 0;
    for (const ByteRange& r : a) {
        std::uint64_t pos = r.offset;
        while (j < b.size() && b[j].end() <= pos) ++j;
        for (std::size_t k = j; k < b.size() && b[k].offset < r.end(); ++k) {
            if (b[k].offset > pos) out.push_back({pos, b[k].offset - pos});
            pos = std::max(pos, b[k].end());
        }
        if (pos < r.end()) out.push_back({pos, r.end() - pos});
    }
    return out;
}

std::vector<std::uint64_t> touched_extents(std::span<const ExtentRef> refs, std::span<const ByteRange> remapped) {
    std::vector<std::uint64_t> out;
    for (const ExtentRef& ref : refs) {
        if (ref.extent != 0 && any_overlap(remapped, {ref.file_offset, ref.length})) out.push_back(ref.extent);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::uint64_t> partly_used_extents(std::span<const ExtentRef> refs) {
    std::map<std::uint64_t, std::pair<std::uint64_t, std::vector<ByteRange>>> used;  // extent -> (size, ranges)
    for (const ExtentRef& ref : refs) {
        if (ref.extent == 0) continue;
        auto& [size, ranges] = used[ref.extent];
        size = ref.ram_bytes;
        ranges.push_back({ref.extent_offset, ref.length});
    }
    std::vector<std::uint64_t> out;
    for (auto& [extent, use] : used) {
        std::uint64_t covered = 0;
        for (const ByteRange& r : normalized(std::move(use.second))) {
            covered += std::min(r.end(), use.first) - std::min(r.offset, use.first);
        }
        if (covered < use.first) out.push_back(extent);
    }
    return out;
}

std::vector<ExtentRelease> plan_extent_release(std::span<const ExtentRef> refs, std::span<const ByteRange> remapped,
                                               std::span<const ByteRange> zeros, const OwnersLookup& owners,
                                               const ReleasePolicy& policy) {
    std::map<std::uint64_t, ExtentUse> uses;
    const std::vector<std::uint64_t> touched = touched_extents(refs, remapped);
    for (const std::uint64_t e : touched) uses[e];
    for (const std::uint64_t e : partly_used_extents(refs)) uses[e];
    for (const ExtentRef& ref : refs) {
        const auto it = uses.find(ref.extent);
        if (it == uses.end()) continue;
        ExtentUse& u = it->second;
        u.disk_bytes = ref.disk_bytes;
        u.ram_bytes = ref.ram_bytes;
        u.movable = u.movable && ref.movable;
        u.refs.push_back(ref);
    }
    std::vector<ExtentRelease> out;
    for (auto& [extent, use] : uses) {
        ExtentRelease r;
        r.extent = extent;
        r.disk_bytes = use.disk_bytes;
        r.pieces = move_pieces(use, remapped);
        std::vector<ByteRange> remainder;
        for (const MovePiece& p : r.pieces) remainder.push_back({p.file_offset, p.length});
        r.remainder = normalized(std::move(remainder));
        std::uint64_t gain = use.disk_bytes;
        if (!r.remainder.empty()) {
            r.write_bytes = move_cost(r.pieces, zeros, use, policy.block_size);
            if (!policy.moves || !use.movable) {
                r.fate = ExtentFate::NotMovable;
            } else if (r.write_bytes >= use.disk_bytes ||
                       static_cast<double>(r.write_bytes) >
                           policy.max_write_per_freed * static_cast<double>(use.disk_bytes - r.write_bytes)) {
                r.fate = ExtentFate::NotWorthMoving;
            } else {
                r.fate = ExtentFate::FreedByMove;
                gain = use.disk_bytes - r.write_bytes;
            }
            if (r.fate != ExtentFate::FreedByMove) {
                if (std::binary_search(touched.begin(), touched.end(), extent)) out.push_back(std::move(r));
                continue;
            }
        }
        switch (owners(extent)) {
        case ExtentOwners::ThisFile:
            r.freed_bytes = gain;
            break;
        case ExtentOwners::OtherFiles:
            r.fate = ExtentFate::Shared;
            break;
        case ExtentOwners::ReadOnlySnapshot:
            r.fate = ExtentFate::HeldBySnapshot;
            r.held_bytes = gain;
            break;
        }
        // A partly used extent nothing remaps: reported only when moving gives it back.
        if (r.fate != ExtentFate::FreedByMove && !std::binary_search(touched.begin(), touched.end(), extent)) continue;
        out.push_back(std::move(r));
    }
    return out;
}

std::uint64_t blocks_released(std::span<const Extent> extents, std::span<const ByteRange> remapped,
                              std::uint64_t block_size) {
    std::uint64_t total = 0;
    std::size_t e = 0;
    for (const ByteRange& r : remapped) {
        const std::uint64_t begin = r.offset, end = round_up(r.end(), block_size);
        while (e < extents.size() && extents[e].end() <= begin) ++e;
        for (std::size_t k = e; k < extents.size() && extents[k].logical < end; ++k) {
            const Extent& x = extents[k];
            if (x.shared || !x.has_address()) continue;  // unwritten (preallocated) space counts
            total += std::min(end, x.end()) - std::max(begin, x.logical);
        }
    }
    return total;
}

}  // namespace rdd
