// scan_writers over a hand-built procfs tree: its links point at real files, so matching by
// stat() is exercised for real, while the text files say whatever the case needs.
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "reflinkdedup/lock/writer_scan.hpp"

namespace rdd::lock {
namespace {

namespace fs = std::filesystem;

class FakeProc : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "rdd-fakeproc.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        base_ = tmpl;
        proc_ = base_ / "proc";
        fs::create_directories(proc_);
        for (const char* name : {"written", "read", "mapped", "mapped-private", "other"}) {
            std::ofstream(base_ / name) << name;
        }
    }
    void TearDown() override { fs::remove_all(base_); }

    FileKey key(const char* name) const {
        struct stat st {};
        EXPECT_EQ(::stat((base_ / name).c_str(), &st), 0);
        return file_key(st);
    }
    void write(const fs::path& rel, const std::string& text) const {
        fs::create_directories((proc_ / rel).parent_path());
        std::ofstream(proc_ / rel) << text;
    }
    void link(const fs::path& rel, const fs::path& target) const {
        fs::create_directories((proc_ / rel).parent_path());
        fs::create_symlink(target, proc_ / rel);
    }
    std::string maps_line(const char* range, const char* perms, const char* name) const {
        // A made-up device field: only the map_files link may decide.
        return std::string(range) + " " + perms + " 00000000 00:99 " + std::to_string(key(name).ino) +
               "      " + (base_ / name).string() + "\n";
    }

    fs::path base_;
    fs::path proc_;
};

TEST_F(FakeProc, FindsWritableFdsAndSharedWritableMappings) {
    write("100/comm", "editor\n");
    link("100/fd/3", base_ / "written");
    write("100/fdinfo/3", "pos:\t0\nflags:\t0100002\nmnt_id:\t1\n");
    link("100/fd/4", base_ / "read");
    write("100/fdinfo/4", "pos:\t0\nflags:\t0100000\n");
    link("100/fd/5", base_ / "other");  // a writer, but not a candidate
    write("100/fdinfo/5", "flags:\t01\n");
    write("100/maps", maps_line("7f0000001000-7f0000002000", "rw-s", "mapped") +
                          maps_line("7f0000002000-7f0000003000", "rw-p", "mapped-private") +
                          "7f0000004000-7f0000005000 rw-s 00000000 00:00 0 \n");
    link("100/map_files/7f0000001000-7f0000002000", base_ / "mapped");
    link("100/map_files/7f0000002000-7f0000003000", base_ / "mapped-private");

    write("200/comm", "db\n");
    link("200/fd/7", base_ / "mapped");
    write("200/fdinfo/7", "flags:\t0102001\n");
    write("200/maps", "");

    fs::create_directories(proc_ / "self");  // not a pid
    write("sys/x", "");

    const std::vector<FileKey> files{key("written"), key("read"), key("mapped"), key("mapped-private")};
    const auto result = scan_writers(files, proc_);
    EXPECT_EQ(result.processes, 2u);
    EXPECT_TRUE(result.inaccessible.empty());
    ASSERT_EQ(result.writers.size(), 2u);

    const auto& w = result.writers.at(key("written"));
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0].pid, 100);
    EXPECT_EQ(w[0].comm, "editor");
    EXPECT_EQ(w[0].access, WriteAccess::OpenFd);
    EXPECT_EQ(w[0].fd, 3);
    EXPECT_EQ(w[0].open_flags, 0100002u);

    auto m = result.writers.at(key("mapped"));
    ASSERT_EQ(m.size(), 2u);
    std::sort(m.begin(), m.end(), [](const Writer& a, const Writer& b) { return a.pid < b.pid; });
    EXPECT_EQ(m[0].access, WriteAccess::SharedMapping);
    EXPECT_EQ(m[0].mapping, "7f0000001000-7f0000002000");
    EXPECT_EQ(m[1].pid, 200);
    EXPECT_EQ(m[1].comm, "db");
    EXPECT_EQ(m[1].access, WriteAccess::OpenFd);
    EXPECT_EQ(describe(m[1]), "pid 200 (db) has it open for writing (fd 7)");
}

TEST_F(FakeProc, VanishedProcessesAndFdsAreIgnored) {
    write("300/comm", "gone\n");
    link("300/fd/3", base_ / "no-such-file");  // closed between readdir and stat
    link("300/fd/4", base_ / "written");        // fdinfo gone: the fd was closed meanwhile
    // no maps: the process exited
    fs::create_directories(proc_ / "301");       // nothing at all left
    const std::vector<FileKey> files{key("written")};
    const auto result = scan_writers(files, proc_);
    EXPECT_TRUE(result.writers.empty());
    EXPECT_TRUE(result.inaccessible.empty());
}

TEST_F(FakeProc, EmptyCandidateSetScansNothing) {
    const auto result = scan_writers({}, base_ / "does-not-exist");
    EXPECT_EQ(result.processes, 0u);
}

TEST_F(FakeProc, UnreadableProcRootThrows) {
    const std::vector<FileKey> files{key("written")};
    EXPECT_ANY_THROW((void)scan_writers(files, base_ / "does-not-exist"));
}

}  // namespace
}  // namespace rdd::lock
