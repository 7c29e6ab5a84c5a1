#pragma once
// After dedup-vol shared or moved a file's data: its catalog block rows get the addresses the
// data has now (FIEMAP, layout only), so the catalog stops counting those blocks as duplicates,
// the next plan does not look at them again, and a later scan knows them as unmoved.
#include <set>

#include "file_access.hpp"
#include "reflinkdedup/catalog/catalog.hpp"

namespace rdd {

// A file that changed or went meanwhile is left alone: its next scan rehashes it anyway.
void refresh_block_addresses(catalog::Catalog& cat, FileAccess& files, const std::set<catalog::FileId>& relocated);

}  // namespace rdd
