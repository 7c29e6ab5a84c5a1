#pragma once
// An open-addressing set of digests for the duplicate probe: 16 bytes a slot, load factor
// <= 1/2, no per-element allocation. Digests are uniform: their own bits are the hash.
// The probe asks it about every block row while almost none is a member: a bit filter of
// 16 bits per member (2 MiB per million, ~6% false positives) answers most questions from
// cache instead of a table too big for it (the probe at 10^8 rows: 24 s without, 11 s with).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "reflinkdedup/catalog/types.hpp"

namespace rdd::catalog::detail {

class DigestSet {
public:
    DigestSet() { slots_.resize(1024); }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }

    void insert(const Digest& d) {
        if (is_free(d)) {
            size_ += has_free_marker_ ? 0 : 1;
            has_free_marker_ = true;
            return;
        }
        if (2 * (size_ + 1) > slots_.size()) grow();
        if (place(slots_, d)) ++size_;
    }

    // Call after the last insert; contains() is exact with or without it.
    void build_filter() {
        std::size_t bits = std::size_t{1} << 16;
        while (bits < 16 * size_) bits *= 2;
        filter_.assign(bits / 64, 0);
        filter_mask_ = bits - 1;
        for (const Digest& d : slots_) {
            if (!is_free(d)) set_bit(d);
        }
    }

    [[nodiscard]] bool contains(const Digest& d) const noexcept {
        if (is_free(d)) return has_free_marker_;
        if (!filter_.empty()) {
            const std::size_t bit = filter_bit(d);
            if ((filter_[bit / 64] & (std::uint64_t{1} << (bit % 64))) == 0) return false;
        }
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = slot(d, mask);; i = (i + 1) & mask) {
            if (slots_[i] == d) return true;
            if (is_free(slots_[i])) return false;
        }
    }

private:
    // The all-zero digest marks a free slot; a real one is tracked by a flag.
    static bool is_free(const Digest& d) noexcept { return d.hi == 0 && d.lo == 0; }
    [[nodiscard]] std::size_t filter_bit(const Digest& d) const noexcept {
        return static_cast<std::size_t>(d.lo ^ (d.hi * 0xC2B2AE3D27D4EB4FULL)) & filter_mask_;
    }
    void set_bit(const Digest& d) noexcept {
        const std::size_t bit = filter_bit(d);
        filter_[bit / 64] |= std::uint64_t{1} << (bit % 64);
    }
    static std::size_t slot(const Digest& d, std::size_t mask) noexcept {
        return static_cast<std::size_t>(d.hi ^ (d.lo * 0x9E3779B97F4A7C15ULL)) & mask;
    }
    // true if inserted, false if present.
    static bool place(std::vector<Digest>& slots, const Digest& d) noexcept {
        const std::size_t mask = slots.size() - 1;
        for (std::size_t i = slot(d, mask);; i = (i + 1) & mask) {
            if (is_free(slots[i])) {
                slots[i] = d;
                return true;
            }
            if (slots[i] == d) return false;
        }
    }
    void grow() {
        std::vector<Digest> bigger(slots_.size() * 2);
        for (const Digest& d : slots_) {
            if (!is_free(d)) place(bigger, d);
        }
        slots_.swap(bigger);
    }

    std::vector<Digest> slots_;
    std::vector<std::uint64_t> filter_;
    std::size_t filter_mask_ = 0;
    std::size_t size_ = 0;
    bool has_free_marker_ = false;
};

}  // namespace rdd::catalog::detail
