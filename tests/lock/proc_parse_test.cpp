// The /proc parsers on text as the kernel prints it, including the awkward cases.
#include <fcntl.h>

#include <gtest/gtest.h>

#include "reflinkdedup/lock/proc_parse.hpp"

namespace rdd::lock {
namespace {

TEST(FdinfoFlags, ParsesOctalFlagsLine) {
    EXPECT_EQ(parse_fdinfo_flags("pos:\t0\nflags:\t0102001\nmnt_id:\t43\nino:\t313\n"), 0102001u);
    EXPECT_EQ(parse_fdinfo_flags("pos:\t0\nflags:\t0100002\n"), 0100002u);
    EXPECT_EQ(parse_fdinfo_flags("flags:\t0100000"), 0100000u);  // no trailing newline
    EXPECT_EQ(parse_fdinfo_flags("flags:   02"), 02u);
}

TEST(FdinfoFlags, RejectsMissingOrGarbled) {
    EXPECT_EQ(parse_fdinfo_flags(""), std::nullopt);
    EXPECT_EQ(parse_fdinfo_flags("pos:\t0\nmnt_id:\t43\n"), std::nullopt);
    EXPECT_EQ(parse_fdinfo_flags("flags:\t0109\n"), std::nullopt);   // 9 is not octal
    EXPECT_EQ(parse_fdinfo_flags("flags:\t\n"), std::nullopt);
    EXPECT_EQ(parse_fdinfo_flags("flags:\t02 x\n"), std::nullopt);
    // Only a line that starts with the key counts.
    EXPECT_EQ(parse_fdinfo_flags("xflags:\t02\n"), std::nullopt);
}

TEST(FdinfoFlags, AccessModeDecidesWriting) {
    EXPECT_TRUE(opened_for_write(0102001));   // O_WRONLY|O_APPEND|O_LARGEFILE
    EXPECT_TRUE(opened_for_write(0100002));   // O_RDWR
    EXPECT_FALSE(opened_for_write(0100000));  // O_RDONLY
    EXPECT_FALSE(opened_for_write(O_PATH));
    EXPECT_FALSE(opened_for_write(O_RDONLY | O_TRUNC | O_APPEND));  // access mode is what writes
}

TEST(MapsLine, SharedWritableFileMapping) {
    const auto e = parse_maps_line(
        "7fcc2a517000-7fcc2a518000 rw-s 00000000 00:27 310                        /mnt/bt/q3/mm");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->start, 0x7fcc2a517000u);
    EXPECT_EQ(e->end, 0x7fcc2a518000u);
    EXPECT_TRUE(e->read);
    EXPECT_TRUE(e->write);
    EXPECT_FALSE(e->exec);
    EXPECT_TRUE(e->shared);
    EXPECT_EQ(e->dev_major, 0u);
    EXPECT_EQ(e->dev_minor, 0x27u);
    EXPECT_EQ(e->inode, 310u);
    EXPECT_EQ(e->path, "/mnt/bt/q3/mm");
    EXPECT_FALSE(e->deleted);
    EXPECT_TRUE(writes_to_file(*e));
    EXPECT_EQ(map_files_name(*e), "7fcc2a517000-7fcc2a518000");
}

TEST(MapsLine, PrivateAndReadOnlyMappingsDoNotWrite) {
    const auto priv = parse_maps_line("7fcc2a516000-7fcc2a517000 rw-p 00000000 00:27 311   /x/mp");
    const auto ro = parse_maps_line("7fcc2a515000-7fcc2a516000 r--s 00001000 fd:01 312   /x/ms");
    ASSERT_TRUE(priv && ro);
    EXPECT_FALSE(writes_to_file(*priv));
    EXPECT_FALSE(writes_to_file(*ro));
    EXPECT_EQ(ro->offset, 0x1000u);
    EXPECT_EQ(ro->dev_major, 0xfdu);
    EXPECT_EQ(ro->dev_minor, 1u);
}

TEST(MapsLine, AnonymousAndSpecialMappings) {
    const auto anon = parse_maps_line("7f0000000000-7f0000001000 rw-s 00000000 00:00 0 ");
    ASSERT_TRUE(anon);
    EXPECT_EQ(anon->path, "");
    EXPECT_FALSE(writes_to_file(*anon));  // inode 0: shared anonymous memory, no file
    const auto heap = parse_maps_line("55d4c1a2b000-55d4c1a4c000 rw-p 00000000 00:00 0          [heap]");
    ASSERT_TRUE(heap);
    EXPECT_EQ(heap->path, "[heap]");
    const auto bare = parse_maps_line("7f0000000000-7f0000001000 r--p 00000000 00:00 0");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->path, "");
}

TEST(MapsLine, PathsWithSpacesNewlinesAndDeleted) {
    const auto spaces = parse_maps_line(
        "7f0000000000-7f0000002000 rw-s 00000000 00:2a 99      /mnt/my dir/a  b.img");
    ASSERT_TRUE(spaces);
    EXPECT_EQ(spaces->path, "/mnt/my dir/a  b.img");
    // seq_file_path() writes '\n' as \012.
    const auto newline = parse_maps_line(
        "7f0000000000-7f0000002000 rw-s 00000000 00:2a 99      /mnt/a\\012b (deleted)");
    ASSERT_TRUE(newline);
    EXPECT_EQ(newline->path, "/mnt/a\nb");
    EXPECT_TRUE(newline->deleted);
    const auto deleted = parse_maps_line(
        "7f0000000000-7f0000002000 rw-s 00000000 00:2a 99      /mnt/x (deleted)");
    ASSERT_TRUE(deleted);
    EXPECT_EQ(deleted->path, "/mnt/x");
    EXPECT_TRUE(deleted->deleted);
    EXPECT_TRUE(writes_to_file(*deleted));  // an unlinked file is still written
    const auto backslash = parse_maps_line("1000-2000 r--p 00000000 00:2a 7 /a\\b");
    ASSERT_TRUE(backslash);
    EXPECT_EQ(backslash->path, "/a\\b");
}

TEST(MapsLine, RejectsGarbage) {
    EXPECT_FALSE(parse_maps_line(""));
    EXPECT_FALSE(parse_maps_line("not a maps line"));
    EXPECT_FALSE(parse_maps_line("1000-2000 rw-s 00000000 00:2a"));       // no inode
    EXPECT_FALSE(parse_maps_line("1000 rw-s 00000000 00:2a 7 /x"));       // no range
    EXPECT_FALSE(parse_maps_line("2000-1000 rw-s 00000000 00:2a 7 /x"));  // end before start
    EXPECT_FALSE(parse_maps_line("1000-2000 rws 00000000 00:2a 7 /x"));   // 3 perms
    EXPECT_FALSE(parse_maps_line("1000-2000 rw-s 0000zz00 00:2a 7 /x"));
    EXPECT_FALSE(parse_maps_line("1000-2000 rw-s 00000000 002a 7 /x"));
    EXPECT_FALSE(parse_maps_line("1000-2000 rw-s 00000000 00:2a 7x /x"));
}

TEST(MapsText, SplitsLinesAndSkipsGarbage) {
    const auto entries = parse_maps(
        "1000-2000 r--p 00000000 00:2a 7 /a\n"
        "garbage\n"
        "3000-4000 rw-s 00000000 00:2a 8 /b c\n");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].path, "/a");
    EXPECT_EQ(entries[1].path, "/b c");
    EXPECT_EQ(map_files_name(entries[1]), "3000-4000");  // unpadded, as map_files names it
}

}  // namespace
}  // namespace rdd::lock
