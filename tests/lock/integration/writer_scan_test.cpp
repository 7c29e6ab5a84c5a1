// The /proc writer scan against real processes holding files on loop-mounted btrfs and XFS.
#include <sys/stat.h>

#include <cerrno>

#include <gtest/gtest.h>

#include "child.hpp"
#include "lock_fs_test.hpp"
#include "reflinkdedup/lock/writer_scan.hpp"

namespace rdd::lock::test {
namespace {

FileKey key_of(const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0);
    return file_key(st);
}

using WriterScanTest = LockFsTest;

TEST_P(WriterScanTest, FindsOpenWriterWithPidAndComm) {
    const auto w = make_file("written", 1);
    const auto r = make_file("read only", 2);  // a space in the name, for good measure
    Child writer({helper_path(), "hold", "wo", w.string()});
    Child reader({helper_path(), "hold", "ro", r.string()});
    ASSERT_EQ(first_line(writer), "ready");
    ASSERT_EQ(first_line(reader), "ready");

    const std::vector<FileKey> keys{key_of(w), key_of(r)};
    const auto scan = scan_writers(keys);
    EXPECT_GT(scan.processes, 2u);
    // Root may still be refused some processes (here: a PID 1 with more capabilities than
    // us); they are reported, never silently treated as non-writers.
    for (const auto& p : scan.inaccessible) {
        EXPECT_NE(p.pid, writer.pid());
        EXPECT_TRUE(p.error == EACCES || p.error == EPERM) << p.error;
    }
    ASSERT_EQ(scan.writers.size(), 1u) << "only the O_WRONLY holder writes";
    const auto& ws = scan.writers.at(key_of(w));
    ASSERT_EQ(ws.size(), 1u);
    EXPECT_EQ(ws[0].pid, writer.pid());
    EXPECT_EQ(ws[0].comm, "rdd-holder");
    EXPECT_EQ(ws[0].access, WriteAccess::OpenFd);
    EXPECT_TRUE(ws[0].open_flags & 01);
}

TEST_P(WriterScanTest, FindsSharedWritableMappingAfterItsFdIsClosed) {
    const auto m = make_file("mapped", 1);
    Child mapper({helper_path(), "map", m.string()});
    ASSERT_EQ(first_line(mapper), "ready");
    const std::vector<FileKey> keys{key_of(m)};
    const auto scan = scan_writers(keys);
    ASSERT_EQ(scan.writers.size(), 1u);
    const auto& ws = scan.writers.at(keys[0]);
    ASSERT_EQ(ws.size(), 1u);
    EXPECT_EQ(ws[0].pid, mapper.pid());
    EXPECT_EQ(ws[0].access, WriteAccess::SharedMapping);
    EXPECT_FALSE(ws[0].mapping.empty());
}

TEST_P(WriterScanTest, NoWritersOnceTheyAreGone) {
    const auto w = make_file("written", 1);
    {
        Child writer({helper_path(), "hold", "rw", w.string()});
        ASSERT_EQ(first_line(writer), "ready");
        writer.close_stdin();
        EXPECT_EQ(writer.wait(), 0);
    }
    const std::vector<FileKey> keys{key_of(w)};
    EXPECT_TRUE(scan_writers(keys).writers.empty());
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(WriterScanTest);

}  // namespace
}  // namespace rdd::lock::test
