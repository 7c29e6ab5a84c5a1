// The freeze journal's file format (pure) and the file-backed journal in a temp dir (no root).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "reflinkdedup/lock/file_freeze_journal.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::lock {
namespace {

FreezeEntry entry(std::uint64_t ino, std::string path, std::uint32_t flags = 0) {
    FreezeEntry e;
    e.filesystem = "0f1e2d3c-aaaa-bbbb-cccc-000000000001";
    e.identity = FileIdentity{256, ino, 7};
    e.original_flags = flags;
    e.path = std::move(path);
    return e;
}

TEST(FreezeJournalFormat, RoundTripsOddPaths) {
    std::string weird = "/mnt/a\tb\nc\\d e";
    weird += '\x7f';
    weird += "\xff\xfe";  // not UTF-8: paths are bytes
    const std::vector<FreezeEntry> in{entry(257, "/mnt/plain"), entry(258, weird, 0x40),
                                      entry(259, "/x", 0xffffffff)};
    const std::string text = encode_freeze_journal(in);
    // One line per entry after the header, whatever the path holds.
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4);
    EXPECT_EQ(decode_freeze_journal(text), in);
}

TEST(FreezeJournalFormat, EmptyJournal) {
    EXPECT_TRUE(decode_freeze_journal("").empty());
    EXPECT_TRUE(decode_freeze_journal(encode_freeze_journal({})).empty());
}

TEST(FreezeJournalFormat, RejectsDamage) {
    const std::string good = encode_freeze_journal(std::vector{entry(257, "/a")});
    EXPECT_THROW((void)decode_freeze_journal("something else\n"), JournalFormatError);
    EXPECT_THROW((void)decode_freeze_journal(good.substr(0, good.size() - 1)), JournalFormatError);
    const std::string header = good.substr(0, good.find('\n') + 1);
    EXPECT_THROW((void)decode_freeze_journal(header + "fs\t1\t2\t3\t0\n"), JournalFormatError);
    EXPECT_THROW((void)decode_freeze_journal(header + "fs\t1\tx\t3\t0\t/a\n"), JournalFormatError);
    EXPECT_THROW((void)decode_freeze_journal(header + "fs\t1\t2\t3\tzz\t/a\n"), JournalFormatError);
    EXPECT_THROW((void)decode_freeze_journal(header + "fs\t1\t2\t3\t0\t/a\\x4\n"), JournalFormatError);
    EXPECT_THROW((void)decode_freeze_journal(header + "fs\t1\t2\t3\t0\t/a\\q41\n"), JournalFormatError);
    EXPECT_THROW((void)decode_freeze_journal(header + "fs\t1\t2\t3\t0\t\n"), JournalFormatError);
}

class TempStateDir : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (std::filesystem::temp_directory_path() / "rdd-journal-test.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        base_ = tmpl;
    }
    void TearDown() override { std::filesystem::remove_all(base_); }
    std::filesystem::path base_;
};

TEST_F(TempStateDir, FileJournalPersistsRecordAndForget) {
    const auto dir = base_ / "state";
    const auto a = entry(257, "/mnt/a");
    const auto b = entry(258, "/mnt/b\nnewline", 0x40);
    {
        FileFreezeJournal j(dir);
        EXPECT_TRUE(j.pending().empty());
        j.record(std::vector{a, b});
        auto a2 = a;
        a2.path = "/mnt/a-renamed";  // same file recorded again replaces the entry
        j.record(std::span(&a2, 1));
        ASSERT_EQ(j.pending().size(), 2u);
    }
    struct stat st {};
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    ASSERT_EQ(::stat((dir / "freeze-journal").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    {
        FileFreezeJournal j(dir);  // a new process would see the same
        const auto p = j.pending();
        ASSERT_EQ(p.size(), 2u);
        EXPECT_EQ(p[0].path, "/mnt/a-renamed");
        EXPECT_EQ(p[1], b);
        j.forget(std::span(&b, 1));
        j.forget(std::span(&b, 1));  // forgetting twice is harmless
    }
    FileFreezeJournal j(dir);
    ASSERT_EQ(j.pending().size(), 1u);
    EXPECT_EQ(j.pending()[0].identity.inode, 257u);
}

TEST_F(TempStateDir, FileJournalIsExclusive) {
    FileFreezeJournal first(base_);
    try {
        FileFreezeJournal second(base_);
        FAIL() << "a second journal on the same directory must be refused";
    } catch (const SysError& e) {
        EXPECT_EQ(e.err(), EWOULDBLOCK);
    }
}

TEST_F(TempStateDir, FileJournalRefusesDamagedFile) {
    std::ofstream(base_ / "freeze-journal") << "garbage\n";
    EXPECT_THROW(FileFreezeJournal j(base_), JournalFormatError);
}

}  // namespace
}  // namespace rdd::lock
