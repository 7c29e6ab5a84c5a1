#pragma once
// Keeping block rows' physical addresses true after dedup-vol changed where a file's data lies
// (shared onto another extent, moved out of a bookend extent). Without it the catalog would go
// on counting shared blocks as duplicates, and planning would look at them again every run.
#include <cstdint>
#include <span>

#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/types.hpp"

namespace rdd::catalog {

struct BlockPhysical {
    std::uint64_t index = 0;
    std::uint64_t physical = 0;  // 0 = unknown
};

// Writer only; one transaction. Sets the address of each listed block row of `file` (rows that
// do not exist, such as zero blocks, are left alone); returns how many rows changed.
std::uint64_t set_block_physical(Catalog& cat, FileId file, std::span<const BlockPhysical> blocks);

}  // namespace rdd::catalog
