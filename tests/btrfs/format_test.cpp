// find-new's two output formats and INO_PATHS result parsing, without a filesystem.
#include <gtest/gtest.h>
#include <linux/btrfs.h>

#include "byte_builder.hpp"
#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/find_new.hpp"
#include "reflinkdedup/btrfs/paths.hpp"
#include "reflinkdedup/btrfs/subvolume.hpp"

namespace rdd::btrfs {
namespace {

using test::Bytes;

FileExtentItem extent(std::uint8_t type, std::uint8_t compression = 0) {
    FileExtentItem fe;
    fe.generation = 43;
    fe.type = type;
    fe.compression = compression;
    fe.ram_bytes = 6;
    fe.disk_bytenr = 2100797440;
    fe.disk_num_bytes = 16384;
    fe.offset = 4096;
    fe.num_bytes = 8192;
    return fe;
}

TEST(FormatFindNewLine, RegularExtent) {
    EXPECT_EQ(format_find_new_line(264, 40960, extent(1), "dir/f07"),
              "inode 264 file offset 40960 len 8192 disk start 2100797440 offset 4096 gen 43 flags "
              "NONE dir/f07\n");
}

TEST(FormatFindNewLine, InlinePrintsRamBytesAndZeroes) {
    EXPECT_EQ(format_find_new_line(278, 0, extent(0), "tiny"),
              "inode 278 file offset 0 len 6 disk start 0 offset 0 gen 43 flags INLINE tiny\n");
}

TEST(FormatFindNewLine, FlagCombinations) {
    EXPECT_NE(format_find_new_line(1, 0, extent(2), "p").find(" flags PREALLOC p\n"),
              std::string::npos);
    EXPECT_NE(format_find_new_line(1, 0, extent(1, 3), "c").find(" flags COMPRESS c\n"),
              std::string::npos);
    EXPECT_NE(format_find_new_line(1, 0, extent(0, 1), "ci").find(" flags COMPRESS|INLINE ci\n"),
              std::string::npos);
    EXPECT_NE(format_find_new_line(1, 0, extent(2, 2), "x").find(" flags COMPRESS|PREALLOC x\n"),
              std::string::npos);
}

TEST(FormatFindNewLine, NamesAreWrittenRaw) {
    // btrfs-progs prints names as they are, spaces and all.
    EXPECT_EQ(format_find_new_line(5, 0, extent(0), "a b\tc"),
              "inode 5 file offset 0 len 6 disk start 0 offset 0 gen 43 flags INLINE a b\tc\n");
}

TEST(FormatFindNewLine, AnOverLongItemReadAsZeroes) {
    EXPECT_EQ(format_find_new_line(7, 0, FileExtentItem{}, "big"),
              "inode 7 file offset 0 len 0 disk start 0 offset 0 gen 0 flags INLINE big\n");
}

TEST(FormatFindNewLine, UnknownType) {
    EXPECT_EQ(format_unknown_extent_type(9, 4096, extent(5)),
              "unhandled extent type 5 for inode 9 file offset 4096 gen 43\n");
}

ChangedInode change(std::uint64_t created, std::uint64_t transid, std::uint32_t new_extents,
                    std::uint64_t nbytes) {
    ChangedInode c;
    c.ino = 280;
    c.inode.generation = created;
    c.inode.transid = transid;
    c.inode.size = 204800;
    c.inode.nbytes = nbytes;
    c.inode.mode = 0100644;
    c.inode.nlink = 1;
    c.new_extent_items = new_extents;
    return c;
}

TEST(DescribeChange, Words) {
    EXPECT_EQ(describe_change(change(45, 45, 2, 4096), 45), "new,extents");
    EXPECT_EQ(describe_change(change(45, 45, 0, 204800), 45), "new,old-extents");  // reflink copy
    EXPECT_EQ(describe_change(change(45, 45, 0, 0), 45), "new");                   // empty file
    EXPECT_EQ(describe_change(change(30, 45, 1, 4096), 45), "extents");            // append
    EXPECT_EQ(describe_change(change(30, 45, 0, 4096), 45), "inode-only");         // chattr, nocow
}

TEST(FormatChangeLine, FieldsThenTabSeparatedEscapedPaths) {
    ChangedInode c = change(44, 45, 0, 204800);
    c.inode.flags = 0x3;
    EXPECT_EQ(
        format_change_line(c, 45, {"reflinked", "dir/a\tb", "new\nline\\"}),
        "inode 280 gen 44 transid 45 size 204800 mode 0100644 nlink 1 flags NODATASUM|NODATACOW "
        "changed inode-only\treflinked\tdir/a\\tb\tnew\\nline\\\\\n");
    EXPECT_EQ(
        format_change_line(c, 45, {}),
        "inode 280 gen 44 transid 45 size 204800 mode 0100644 nlink 1 flags NODATASUM|NODATACOW "
        "changed inode-only\n");
}

// struct btrfs_data_container: bytes_left, bytes_missing, elem_cnt, elem_missed, val[], strings.
Bytes container(const std::vector<std::string>& paths, std::uint32_t missed = 0) {
    Bytes strings;
    std::vector<std::uint64_t> offsets;
    const std::uint64_t table = paths.size() * sizeof(std::uint64_t);
    for (const auto& p : paths) {
        offsets.push_back(table + strings.size());
        strings.text(p).zeros(1);
    }
    Bytes b;
    b.host<std::uint32_t>(0)
        .host<std::uint32_t>(0)
        .host(static_cast<std::uint32_t>(paths.size()))
        .host(missed);
    for (const auto o : offsets) b.host(o);
    return b.append(strings);
}

TEST(ParseInoPaths, AllPaths) {
    const Bytes b = container({"hardlink-to-f03", "dir/f03"});
    const InoPathsResult r = parse_ino_paths(b.span());
    EXPECT_EQ(r.paths, (std::vector<std::string>{"hardlink-to-f03", "dir/f03"}));
    EXPECT_EQ(r.missed, 0u);
    EXPECT_EQ(parse_ino_paths(container({}, 3).span()).missed, 3u);
}

TEST(ParseInoPaths, RejectsMalformed) {
    const Bytes good = container({"abc"});
    EXPECT_THROW((void)parse_ino_paths(good.first(15)), MalformedItemError);  // counters cut
    EXPECT_THROW((void)parse_ino_paths(good.first(good.size() - 1)), MalformedItemError);  // no NUL
    Bytes too_many;
    too_many.host<std::uint32_t>(0)
        .host<std::uint32_t>(0)
        .host<std::uint32_t>(1000)
        .host<std::uint32_t>(0)
        .zeros(64);
    EXPECT_THROW((void)parse_ino_paths(too_many.span()), MalformedItemError);
    Bytes far;
    far.host<std::uint32_t>(0).host<std::uint32_t>(0).host<std::uint32_t>(1).host<std::uint32_t>(0);
    far.host<std::uint64_t>(4000).text("x").zeros(1);
    EXPECT_THROW((void)parse_ino_paths(far.span()), MalformedItemError);
}

TEST(UuidText, CanonicalAndNil) {
    Uuid u{};
    EXPECT_TRUE(is_nil(u));
    EXPECT_EQ(to_string(u), "-");
    for (std::size_t i = 0; i < u.size(); ++i) u[i] = static_cast<std::uint8_t>(0xa0 + i);
    EXPECT_FALSE(is_nil(u));
    EXPECT_EQ(to_string(u), "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf");
}

}  // namespace
}  // namespace rdd::btrfs
