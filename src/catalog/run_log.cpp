// The run log (schema v5): one row per real dedup-vol run.
#include "reflinkdedup/catalog/run_log.hpp"

#include "catalog_internal.hpp"

namespace rdd::catalog {

void record_run(Catalog& cat, const RunRecord& run) {
    const Connection& conn = detail::writer_connection(cat, "record run");
    Statement st(conn,
                 "INSERT INTO run(started, finished, command, outcome, bytes_shared, bytes_freed, dedupe_calls, "
                 "files_skipped) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    st.bind(1, run.started).bind(2, run.finished).bind(3, run.command).bind(4, run.outcome);
    st.bind_u64(5, run.bytes_shared).bind(6, run.bytes_freed).bind_u64(7, run.dedupe_calls).bind_u64(8, run.files_skipped);
    st.run();
}

RunTotals run_totals(const Catalog& cat) {
    RunTotals t;
    {
        Statement st(cat.connection(), "SELECT count(*), coalesce(sum(bytes_shared), 0), coalesce(sum(bytes_freed), 0) FROM run");
        if (st.step()) {
            t.runs = st.column_u64(0);
            t.bytes_shared = st.column_u64(1);
            t.bytes_freed = st.column_int(2);
        }
    }
    Statement st(cat.connection(),
                 "SELECT started, finished, command, outcome, bytes_shared, bytes_freed, dedupe_calls, files_skipped "
                 "FROM run ORDER BY id DESC LIMIT 1");
    if (st.step()) {
        RunRecord r;
        r.started = st.column_int(0);
        r.finished = st.column_int(1);
        r.command = std::string(st.column_text(2));
        r.outcome = std::string(st.column_text(3));
        r.bytes_shared = st.column_u64(4);
        r.bytes_freed = st.column_int(5);
        r.dedupe_calls = st.column_u64(6);
        r.files_skipped = st.column_u64(7);
        t.last = std::move(r);
    }
    return t;
}

}  // namespace rdd::catalog
