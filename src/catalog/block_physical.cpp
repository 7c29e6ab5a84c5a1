#include "reflinkdedup/catalog/block_physical.hpp"

#include "catalog_internal.hpp"

namespace rdd::catalog {

std::uint64_t set_block_physical(Catalog& cat, FileId file, std::span<const BlockPhysical> blocks) {
    const Connection& conn = detail::writer_connection(cat, "set block addresses");
    std::uint64_t changed = 0;
    Transaction tx(conn);
    {
        // The primary key (file_id, blk): one descent per row, in key order when `blocks` is.
        Statement st(conn, "UPDATE block SET phys = ?3 WHERE file_id = ?1 AND blk = ?2 AND phys IS NOT ?3");
        for (const BlockPhysical& b : blocks) {
            st.bind(1, file).bind_u64(2, b.index);
            if (b.physical == 0) {
                st.bind_null(3);
            } else {
                st.bind_u64(3, b.physical);
            }
            st.run();
            changed += static_cast<std::uint64_t>(conn.changes());
            st.reset();
        }
    }
    tx.commit();
    return changed;
}

}  // namespace rdd::catalog
