// The SQLite wrappers: errors carry the path and SQLite's text; cached statements; transactions.
#include "catalog_test_support.hpp"
#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/catalog/sqlite.hpp"

namespace rdd::catalog {
namespace {

using testing::TempDir;

TEST(CatalogSqlite, ErrorsCarryPathAndSqliteText) {
    TempDir tmp;
    const std::string db = (tmp.path() / "x.sqlite").string();
    Connection conn(db, Connection::Mode::read_write);
    try {
        conn.exec("CREATE TABLE t(x); SELEC nonsense");
        FAIL() << "no exception";
    } catch (const CatalogError& e) {
        const std::string what = e.what();
        EXPECT_EQ(e.path(), db);
        EXPECT_NE(what.find(db), std::string::npos) << what;
        EXPECT_NE(what.find("syntax error"), std::string::npos) << what;
        EXPECT_NE(e.sqlite_code(), 0);
    }
    conn.exec("CREATE TABLE u(x PRIMARY KEY)");
    conn.exec("INSERT INTO u VALUES (1)");
    Statement dup(conn, "INSERT INTO u VALUES (1)");
    try {
        dup.run();
        FAIL() << "no exception";
    } catch (const CatalogError& e) {
        EXPECT_NE(std::string(e.what()).find("UNIQUE constraint failed"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Connection((tmp.path() / "missing" / "x.sqlite").string(), Connection::Mode::read_only), CatalogError);
}

TEST(CatalogSqlite, CachedStatementsAreReusedAndNeverShared) {
    TempDir tmp;
    Connection conn((tmp.path() / "x.sqlite").string(), Connection::Mode::read_write);
    conn.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)");
    const std::string sql = "SELECT x FROM t WHERE x >= ?1 ORDER BY x";
    {
        auto outer = conn.cached(sql);
        outer->bind(1, 2);
        ASSERT_TRUE(outer->step());
        EXPECT_EQ(outer->column_int(0), 2);
        {
            // Leased while the first is mid-iteration: a separate statement.
            auto inner = conn.cached(sql);
            inner->bind(1, 1);
            ASSERT_TRUE(inner->step());
            EXPECT_EQ(inner->column_int(0), 1);
        }
        ASSERT_TRUE(outer->step());
        EXPECT_EQ(outer->column_int(0), 3);
    }
    // Released: reset, so it starts over.
    auto again = conn.cached(sql);
    again->bind(1, 3);
    ASSERT_TRUE(again->step());
    EXPECT_EQ(again->column_int(0), 3);
}

TEST(CatalogSqlite, TransactionsRollBackUnlessCommittedAndNest) {
    TempDir tmp;
    Connection conn((tmp.path() / "x.sqlite").string(), Connection::Mode::read_write);
    conn.exec("CREATE TABLE t(x)");
    { Transaction tx(conn); conn.exec("INSERT INTO t VALUES (1)"); }
    EXPECT_EQ(conn.query_int("SELECT count(*) FROM t"), 0);
    {
        Transaction outer(conn);
        conn.exec("INSERT INTO t VALUES (1)");
        { Transaction inner(conn); conn.exec("INSERT INTO t VALUES (2)"); }  // rolled back alone
        {
            Transaction inner(conn);
            conn.exec("INSERT INTO t VALUES (3)");
            inner.commit();
        }
        outer.commit();
    }
    EXPECT_EQ(conn.query_int("SELECT sum(x) FROM t"), 4);
}

TEST(CatalogSqlite, ConnectionMovesKeepStatementsValid) {
    TempDir tmp;
    Connection a((tmp.path() / "x.sqlite").string(), Connection::Mode::read_write);
    a.exec("CREATE TABLE t(x); INSERT INTO t VALUES (5)");
    Statement st(a, "SELECT x FROM t");
    Connection b = std::move(a);
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_int(0), 5);
    EXPECT_EQ(b.query_int("SELECT x FROM t"), 5);
}

}  // namespace
}  // namespace rdd::catalog
