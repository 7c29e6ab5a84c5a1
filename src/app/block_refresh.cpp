#include "block_refresh.hpp"

#include <vector>

#include "reflinkdedup/catalog/block_physical.hpp"
#include "reflinkdedup/fs/fiemap.hpp"
#include "reflinkdedup/scan/block_places.hpp"

namespace rdd {

void refresh_block_addresses(catalog::Catalog& cat, FileAccess& files, const std::set<catalog::FileId>& relocated) {
    for (const catalog::FileId id : relocated) {
        files.trim();
        std::string why;
        OpenedFile* f = files.open(id, false, why);
        if (f == nullptr) continue;
        const auto size = static_cast<std::uint64_t>(f->st.st_size);
        const std::vector<Extent> extents = read_fiemap(f->fd.get(), 0, size, f->path);
        BlockAddresses where(extents, size, cat.block_size());
        std::vector<catalog::BlockPhysical> changed;
        (void)cat.for_each_block(id, [&](const catalog::Block& b) {
            if (b.zero) return true;
            const std::uint64_t now = where.physical(b.index);
            if (now != b.physical) changed.push_back({b.index, now});
            return true;
        });
        if (!changed.empty()) (void)catalog::set_block_physical(cat, id, changed);
    }
}

}  // namespace rdd
