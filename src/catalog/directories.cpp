// The directory table (schema v4): what an incremental btrfs scan needs to tell whether any
// entry left a changed directory.
#include "reflinkdedup/catalog/catalog.hpp"

namespace rdd::catalog {

std::optional<Catalog::DirectoryEntries> Catalog::directory(std::uint64_t subvol, std::uint64_t ino) const {
    auto st = conn_.cached("SELECT entries, max_index FROM directory WHERE subvol = ?1 AND ino = ?2");
    st->bind_u64(1, subvol).bind_u64(2, ino);
    if (!st->step()) return std::nullopt;
    return DirectoryEntries{ino, st->column_u64(0), st->column_u64(1)};
}

void Catalog::set_directory(std::uint64_t subvol, const DirectoryEntries& dir) {
    require_writer("set directory");
    auto st = conn_.cached("INSERT OR REPLACE INTO directory(subvol, ino, entries, max_index) VALUES (?1, ?2, ?3, ?4)");
    st->bind_u64(1, subvol).bind_u64(2, dir.ino).bind_u64(3, dir.entries).bind_u64(4, dir.max_index);
    st->run();
}

void Catalog::replace_directories(std::uint64_t subvol, std::span<const DirectoryEntries> dirs) {
    require_writer("replace directories");
    Transaction tx(conn_);
    {
        Statement del(conn_, "DELETE FROM directory WHERE subvol = ?1");
        del.bind_u64(1, subvol);
        del.run();
        Statement ins(conn_, "INSERT INTO directory(subvol, ino, entries, max_index) VALUES (?1, ?2, ?3, ?4)");
        for (const DirectoryEntries& d : dirs) {
            ins.bind_u64(1, subvol).bind_u64(2, d.ino).bind_u64(3, d.entries).bind_u64(4, d.max_index);
            ins.run();
            ins.reset();
        }
    }
    tx.commit();
}

}  // namespace rdd::catalog
