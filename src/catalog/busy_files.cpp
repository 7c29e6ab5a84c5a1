#include "reflinkdedup/catalog/busy_files.hpp"

#include <set>

#include "catalog_internal.hpp"
#include "reflinkdedup/catalog/errors.hpp"

namespace rdd::catalog {

using detail::writer_connection;

std::vector<BusyFile> busy_files(const Catalog& cat) {
    std::vector<BusyFile> out;
    Statement st(cat.connection(),
                 "SELECT b.file_id, f.volume_id, f.path, b.reason, b.pid, b.comm, b.first_seen, b.last_seen, b.times "
                 "FROM busy_file b JOIN file f ON f.id = b.file_id ORDER BY b.last_seen DESC, b.file_id");
    while (st.step()) {
        BusyFile b;
        b.file = st.column_int(0);
        b.volume = st.column_int(1);
        b.path = std::string(st.column_text(2));
        b.reason = std::string(st.column_text(3));
        b.pid = st.column_is_null(4) ? 0 : st.column_int(4);
        b.comm = std::string(st.column_text(5));
        b.first_seen = st.column_int(6);
        b.last_seen = st.column_int(7);
        b.times = st.column_int(8);
        out.push_back(std::move(b));
    }
    return out;
}

void record_busy(Catalog& cat, std::span<const BusyRecord> files, std::int64_t now_unix) {
    const Connection& conn = writer_connection(cat, "record busy files");
    if (files.empty()) return;
    Transaction tx(conn);
    Statement st(conn,
                 "INSERT INTO busy_file(file_id, reason, pid, comm, first_seen, last_seen, times) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1) "
                 "ON CONFLICT(file_id) DO UPDATE SET reason = excluded.reason, pid = excluded.pid, "
                 "comm = excluded.comm, last_seen = excluded.last_seen, times = times + 1");
    for (const BusyRecord& b : files) {
        st.bind(1, b.file).bind(2, b.reason).bind(5, now_unix);
        if (b.pid > 0) st.bind(3, b.pid); else st.bind_null(3);
        if (!b.comm.empty()) st.bind(4, b.comm); else st.bind_null(4);
        st.run();
    }
    tx.commit();
}

std::uint64_t clear_busy(Catalog& cat, std::span<const FileId> files) {
    const Connection& conn = writer_connection(cat, "clear busy files");
    if (files.empty()) return 0;
    Transaction tx(conn);
    Statement st(conn, "DELETE FROM busy_file WHERE file_id = ?1");
    std::uint64_t removed = 0;
    for (const FileId id : files) {
        st.bind(1, id).run();
        removed += static_cast<std::uint64_t>(conn.changes());
    }
    tx.commit();
    return removed;
}

std::uint64_t clear_busy_except(Catalog& cat, std::span<const FileId> keep) {
    const Connection& conn = writer_connection(cat, "clear busy files");
    const std::set<FileId> kept(keep.begin(), keep.end());
    std::vector<FileId> drop;
    {
        Statement st(conn, "SELECT file_id FROM busy_file");
        while (st.step()) {
            if (!kept.contains(st.column_int(0))) drop.push_back(st.column_int(0));
        }
    }
    return clear_busy(cat, drop);
}

std::uint64_t prune_busy_files(Catalog& cat) {
    const Connection& conn = writer_connection(cat, "prune busy files");
    // The list is small; each row is one lookup in file's rowid b-tree.
    conn.exec("DELETE FROM busy_file WHERE file_id NOT IN (SELECT id FROM file)");
    return static_cast<std::uint64_t>(conn.changes());
}

}  // namespace rdd::catalog
