// Item parsers over hand-built little-endian buffers: fields land where the kernel puts them,
// and truncated or malformed items are rejected instead of read past.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "byte_builder.hpp"
#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/items.hpp"

namespace rdd::btrfs {
namespace {

using test::Bytes;

Bytes timespec_bytes(std::uint64_t sec, std::uint32_t nsec) {
    return Bytes().le(sec).le(nsec);
}

// struct btrfs_inode_item, field by field.
Bytes inode_item() {
    Bytes b;
    b.le<std::uint64_t>(36)          // generation
        .le<std::uint64_t>(45)       // transid
        .le<std::uint64_t>(204800)   // size
        .le<std::uint64_t>(208896)   // nbytes
        .le<std::uint64_t>(0)        // block_group
        .le<std::uint32_t>(2)        // nlink
        .le<std::uint32_t>(1000)     // uid
        .le<std::uint32_t>(100)      // gid
        .le<std::uint32_t>(0100644)  // mode
        .le<std::uint64_t>(0)        // rdev
        .le<std::uint64_t>(0x43 |
                           (std::uint64_t{1} << 32))    // NODATASUM|NODATACOW|IMMUTABLE, RO_VERITY
        .le<std::uint64_t>(77)                          // sequence
        .zeros(32)                                      // reserved[4]
        .append(timespec_bytes(1, 2))                   // atime
        .append(timespec_bytes(1795445607, 630140485))  // ctime
        .append(timespec_bytes(1795445599, 543013325))  // mtime
        .append(timespec_bytes(5, 6));                  // otime
    return b;
}

TEST(ParseInodeItem, ReadsEveryField) {
    const Bytes b = inode_item();
    ASSERT_EQ(b.size(), 160u);
    const InodeItem in = parse_inode_item(b.span());
    EXPECT_EQ(in.generation, 36u);
    EXPECT_EQ(in.transid, 45u);
    EXPECT_EQ(in.size, 204800u);
    EXPECT_EQ(in.nbytes, 208896u);
    EXPECT_EQ(in.nlink, 2u);
    EXPECT_EQ(in.uid, 1000u);
    EXPECT_EQ(in.gid, 100u);
    EXPECT_EQ(in.mode, 0100644u);
    EXPECT_TRUE(in.is_regular());
    EXPECT_FALSE(in.is_directory());
    EXPECT_TRUE(in.nodatasum());
    EXPECT_TRUE(in.nodatacow());
    EXPECT_TRUE(in.immutable());
    EXPECT_EQ(in.sequence, 77u);
    EXPECT_EQ(in.atime, (BtrfsTime{1, 2}));
    EXPECT_EQ(in.ctime, (BtrfsTime{1795445607, 630140485}));
    EXPECT_EQ(in.mtime, (BtrfsTime{1795445599, 543013325}));
    EXPECT_EQ(in.otime, (BtrfsTime{5, 6}));
    EXPECT_EQ(inode_flag_names(in.flags), "NODATASUM|NODATACOW|IMMUTABLE|RO_VERITY");
}

TEST(ParseInodeItem, AcceptsALongerItem) {
    Bytes b = inode_item();
    b.zeros(16);  // a future kernel appending fields must not break us
    EXPECT_EQ(parse_inode_item(b.span()).transid, 45u);
}

TEST(ParseInodeItem, RejectsTruncated) {
    const Bytes b = inode_item();
    EXPECT_THROW((void)parse_inode_item(b.first(159)), MalformedItemError);
    EXPECT_THROW((void)parse_inode_item(b.first(0)), MalformedItemError);
}

TEST(InodeFlagNames, NoneAndUnknownBits) {
    EXPECT_EQ(inode_flag_names(0), "NONE");
    EXPECT_EQ(inode_flag_names(0x800), "COMPRESS");
    EXPECT_EQ(inode_flag_names(0x1000), "0x1000");
    EXPECT_EQ(inode_flag_names(0x1002), "NODATACOW|0x1000");
}

Bytes extent_head(std::uint64_t generation, std::uint64_t ram_bytes, std::uint8_t compression,
                  std::uint8_t type) {
    return Bytes()
        .le(generation)
        .le(ram_bytes)
        .le(compression)
        .le<std::uint8_t>(0)
        .le<std::uint16_t>(0)
        .le(type);
}

TEST(ParseFileExtentItem, Regular) {
    Bytes b = extent_head(43, 8192, 0, 1);
    b.le<std::uint64_t>(2100797440)
        .le<std::uint64_t>(131072)
        .le<std::uint64_t>(4096)
        .le<std::uint64_t>(8192);
    ASSERT_EQ(b.size(), 53u);
    const FileExtentItem fe = parse_file_extent_item(b.span());
    EXPECT_EQ(fe.generation, 43u);
    EXPECT_EQ(fe.ram_bytes, 8192u);
    EXPECT_EQ(fe.type, 1u);
    EXPECT_TRUE(fe.has_disk_fields());
    EXPECT_FALSE(fe.is_inline());
    EXPECT_FALSE(fe.is_hole());
    EXPECT_EQ(fe.disk_bytenr, 2100797440u);
    EXPECT_EQ(fe.disk_num_bytes, 131072u);
    EXPECT_EQ(fe.offset, 4096u);
    EXPECT_EQ(fe.num_bytes, 8192u);
}

TEST(ParseFileExtentItem, PreallocAndHole) {
    Bytes p = extent_head(50, 1 << 20, 0, 2);
    p.le<std::uint64_t>(0).le<std::uint64_t>(0).le<std::uint64_t>(0).le<std::uint64_t>(1 << 20);
    const FileExtentItem fe = parse_file_extent_item(p.span());
    EXPECT_EQ(fe.type, static_cast<std::uint8_t>(FileExtentType::Prealloc));
    EXPECT_TRUE(fe.is_hole());  // disk_bytenr 0
    EXPECT_EQ(fe.num_bytes, 1u << 20);
}

TEST(ParseFileExtentItem, InlineHasNoDiskFields) {
    Bytes b = extent_head(42, 6, 0, 0);
    b.text("hello\n");
    const FileExtentItem fe = parse_file_extent_item(b.span());
    EXPECT_TRUE(fe.is_inline());
    EXPECT_FALSE(fe.has_disk_fields());
    EXPECT_FALSE(fe.is_hole());
    EXPECT_EQ(fe.ram_bytes, 6u);
    EXPECT_EQ(fe.inline_size, 6u);
    EXPECT_EQ(fe.disk_bytenr, 0u);
    EXPECT_EQ(fe.num_bytes, 0u);
}

TEST(ParseFileExtentItem, CompressedInline) {
    Bytes b = extent_head(42, 3000, 3, 0);  // zstd, 3000 bytes in RAM, 40 stored
    b.zeros(40);
    const FileExtentItem fe = parse_file_extent_item(b.span());
    EXPECT_EQ(fe.compression, 3u);
    EXPECT_EQ(fe.inline_size, 40u);
}

TEST(ParseFileExtentItem, RejectsTruncated) {
    Bytes reg = extent_head(43, 8192, 0, 1);
    reg.zeros(32);
    EXPECT_THROW((void)parse_file_extent_item(reg.first(52)),
                 MalformedItemError);  // regular needs 53
    EXPECT_THROW((void)parse_file_extent_item(reg.first(21)), MalformedItemError);
    EXPECT_THROW((void)parse_file_extent_item(reg.first(20)), MalformedItemError);  // any needs 21
    EXPECT_THROW((void)parse_file_extent_item(reg.first(0)), MalformedItemError);
    EXPECT_NO_THROW((void)parse_file_extent_item(reg.span()));
    const Bytes inl = extent_head(42, 0, 0, 0);
    EXPECT_NO_THROW((void)parse_file_extent_item(inl.span()));  // empty inline data is valid
}

TEST(ParseFileExtentItem, UnknownTypeKeepsItsNumber) {
    Bytes b = extent_head(43, 8192, 0, 7);
    b.zeros(32);
    const FileExtentItem fe = parse_file_extent_item(b.span());
    EXPECT_EQ(fe.type, 7u);
    EXPECT_FALSE(fe.has_disk_fields());
    EXPECT_THROW((void)parse_file_extent_item(b.first(30)), MalformedItemError);
}

TEST(ParseInodeRefs, SeveralNamesInOneDirectory) {
    Bytes b;
    b.le<std::uint64_t>(2).le<std::uint16_t>(3).text("f03");
    b.le<std::uint64_t>(9).le<std::uint16_t>(15).text("hardlink-to-f03");
    const auto names = parse_inode_refs(b.span(), 257);
    ASSERT_EQ(names.size(), 2u);
    EXPECT_EQ(names[0].parent, 257u);
    EXPECT_EQ(names[0].index, 2u);
    EXPECT_EQ(names[0].name, "f03");
    EXPECT_EQ(names[1].index, 9u);
    EXPECT_EQ(names[1].name, "hardlink-to-f03");
}

TEST(ParseInodeRefs, RejectsNamePastTheItem) {
    Bytes b;
    b.le<std::uint64_t>(2).le<std::uint16_t>(10).text("short");
    EXPECT_THROW((void)parse_inode_refs(b.span(), 257), MalformedItemError);
    Bytes partial_header;
    partial_header.le<std::uint64_t>(2).le<std::uint8_t>(1);  // 9 of 10 header bytes
    EXPECT_THROW((void)parse_inode_refs(partial_header.span(), 257), MalformedItemError);
    EXPECT_TRUE(parse_inode_refs(Bytes().span(), 257).empty());
}

TEST(ParseInodeExtrefs, ParentInTheItem) {
    Bytes b;
    b.le<std::uint64_t>(300).le<std::uint64_t>(4).le<std::uint16_t>(1).text("a");
    b.le<std::uint64_t>(301).le<std::uint64_t>(5).le<std::uint16_t>(2).text("bc");
    const auto names = parse_inode_extrefs(b.span());
    ASSERT_EQ(names.size(), 2u);
    EXPECT_EQ(names[0].parent, 300u);
    EXPECT_EQ(names[0].name, "a");
    EXPECT_EQ(names[1].parent, 301u);
    EXPECT_EQ(names[1].index, 5u);
    EXPECT_EQ(names[1].name, "bc");
    EXPECT_THROW((void)parse_inode_extrefs(b.first(b.size() - 1)), MalformedItemError);
}

TEST(ParseRootItemGeneration, AfterTheEmbeddedInode) {
    Bytes b;
    b.zeros(160).le<std::uint64_t>(4242).zeros(100);
    EXPECT_EQ(parse_root_item_generation(b.span()), 4242u);
    EXPECT_THROW((void)parse_root_item_generation(b.first(167)), MalformedItemError);
}

}  // namespace
}  // namespace rdd::btrfs
