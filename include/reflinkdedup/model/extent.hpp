#pragma once
// Plain description of how a file range maps to disk, as FIEMAP reports it. Pure data: the fs
// module fills it, the planner reasons about it without system calls.
#include <cstdint>

namespace rdd {

struct Extent {
    std::uint64_t logical = 0;   // file offset
    std::uint64_t physical = 0;  // disk byte address (meaningless when !has_address())
    std::uint64_t length = 0;
    bool last = false;
    bool shared = false;         // the fs says other references exist
    bool encoded = false;        // compressed/encoded: physical is the extent start, not linear
    bool inline_data = false;    // btrfs inline data, stored in metadata
    bool unknown = false;        // delalloc or not yet known
    bool unwritten = false;      // preallocated, reads as zeros

    // Whether physical is a real disk address usable to compare two files' mappings.
    [[nodiscard]] bool has_address() const noexcept { return !inline_data && !unknown; }
    [[nodiscard]] std::uint64_t end() const noexcept { return logical + length; }
};

}  // namespace rdd
