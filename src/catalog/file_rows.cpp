#include "file_rows.hpp"

#include "reflinkdedup/catalog/errors.hpp"

namespace rdd::catalog::detail {

Digest column_digest(const Statement& st, int col) {
    const auto bytes = st.column_blob(col);
    if (bytes.size() != 16) return Digest{};
    return Digest::from_bytes(bytes.data());
}

void bind_digest(Statement& st, int index, const Digest& digest, std::array<unsigned char, 16>& storage) {
    storage = digest.bytes();
    st.bind_blob(index, storage);
}

FileRow read_file_row(const Statement& st) {
    FileRow row;
    row.id = st.column_int(0);
    row.identity = FileIdentity{st.column_u64(1), st.column_u64(2), st.column_u64(3)};
    row.volume = st.column_int(4);
    row.size = st.column_u64(5);
    row.mtime_ns = st.column_int(6);
    row.ctime_ns = st.column_int(7);
    row.state = static_cast<FileState>(st.column_int(8));
    row.seen_epoch = st.column_int(9);
    row.hashed_epoch = st.column_int(10);
    if (!st.column_is_null(11)) row.content_digest = column_digest(st, 11);
    row.path = std::string(st.column_text(12));
    return row;
}

FileDeleter::FileDeleter(const Connection& conn)
    : blocks_(conn, "DELETE FROM block WHERE file_id = ?1"),
      zero_runs_(conn, "DELETE FROM zero_run WHERE file_id = ?1"),
      file_(conn, "DELETE FROM file WHERE id = ?1") {}

void FileDeleter::erase(FileId file) {
    for (Statement* st : {&blocks_, &zero_runs_, &file_}) {
        st->bind(1, file);
        st->run();
    }
}

}  // namespace rdd::catalog::detail
