#pragma once
// What the catalog already knows about a file's blocks, so that a changed file is read only
// where its data may have changed: blocks still at the physical address they were hashed at
// (btrfs copy-on-write never rewrites them in place), and blocks shared with another
// catalogued, unchanged file (a reflink copy, a snapshot). Any doubt answers "read it".
#include <cstdint>
#include <vector>

#include "catalog_sink.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/model/extent.hpp"

namespace rdd {

[[nodiscard]] bool layout_unchanged(const catalog::Catalog& cat, catalog::FileId id, const std::vector<Extent>& extents,
                                    std::uint64_t size, std::uint32_t block_size);

[[nodiscard]] std::vector<KnownBlock> reusable_blocks(const catalog::Catalog& cat, const catalog::FileRow& old,
                                                      const std::vector<Extent>& extents, std::uint64_t size,
                                                      std::uint32_t block_size);

[[nodiscard]] bool unchanged_since_hashed(const catalog::Catalog& cat, const catalog::FileRow& row);

[[nodiscard]] std::vector<KnownBlock> blocks_shared_with_catalogued(const catalog::Catalog& cat,
                                                                    const std::vector<Extent>& extents,
                                                                    std::uint64_t size, std::uint32_t block_size,
                                                                    const std::vector<KnownBlock>& already);

}  // namespace rdd
