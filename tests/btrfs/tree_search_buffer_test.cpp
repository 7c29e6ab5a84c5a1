// SearchBufferReader and next_search_key: hand-built ioctl results, continuation with carry.
#include <gtest/gtest.h>
#include <linux/btrfs.h>

#include "byte_builder.hpp"
#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/tree_search.hpp"

namespace rdd::btrfs {
namespace {

using test::Bytes;

Bytes header(std::uint64_t objectid, std::uint32_t type, std::uint64_t offset, std::uint32_t len,
             std::uint64_t transid = 9) {
    btrfs_ioctl_search_header h{};
    h.transid = transid;
    h.objectid = objectid;
    h.offset = offset;
    h.type = type;
    h.len = len;
    return Bytes().host(h);
}

TEST(SearchBufferReader, YieldsEachItemWithItsBytes) {
    Bytes buf;
    buf.append(header(256, 1, 0, 3))
        .text("abc")
        .append(header(257, 108, 4096, 0))
        .append(header(258, 12, 256, 2))
        .text("xy");
    SearchBufferReader reader(buf.span(), 3);
    auto a = reader.next();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->header.objectid, 256u);
    EXPECT_EQ(a->header.type, 1u);
    EXPECT_EQ(a->header.transid, 9u);
    ASSERT_EQ(a->data.size(), 3u);
    EXPECT_EQ(static_cast<char>(a->data[2]), 'c');
    auto b = reader.next();
    ASSERT_TRUE(b);
    EXPECT_EQ(b->header.offset, 4096u);
    EXPECT_TRUE(b->data.empty());
    auto c = reader.next();
    ASSERT_TRUE(c);
    EXPECT_EQ(c->header.objectid, 258u);
    EXPECT_EQ(reader.remaining(), 0u);
    EXPECT_FALSE(reader.next());
}

TEST(SearchBufferReader, StopsAtNrItemsEvenWithBytesLeft) {
    Bytes buf;
    buf.append(header(256, 1, 0, 1)).text("a").zeros(500);  // the rest of the buffer is unused
    SearchBufferReader reader(buf.span(), 1);
    EXPECT_TRUE(reader.next());
    EXPECT_FALSE(reader.next());
}

TEST(SearchBufferReader, ZeroItems) {
    SearchBufferReader empty;
    EXPECT_FALSE(empty.next());
    Bytes buf;
    buf.zeros(64);
    SearchBufferReader reader(buf.span(), 0);
    EXPECT_FALSE(reader.next());
}

TEST(SearchBufferReader, RejectsTruncatedHeader) {
    Bytes buf;
    buf.append(header(256, 1, 0, 0));
    SearchBufferReader reader(buf.first(31), 1);
    EXPECT_THROW((void)reader.next(), MalformedItemError);
}

TEST(SearchBufferReader, RejectsItemRunningPastTheBuffer) {
    Bytes buf;
    buf.append(header(256, 1, 0, 160)).zeros(159);
    SearchBufferReader reader(buf.span(), 1);
    EXPECT_THROW((void)reader.next(), MalformedItemError);
}

TEST(SearchBufferReader, RejectsHugeLengthWithoutOverflow) {
    Bytes buf;
    buf.append(header(256, 1, 0, 0xffffffffu)).zeros(16);
    SearchBufferReader reader(buf.span(), 1);
    EXPECT_THROW((void)reader.next(), MalformedItemError);
}

TEST(SearchBufferReader, RejectsMoreItemsThanTheBufferHolds) {
    Bytes buf;
    buf.append(header(256, 1, 0, 2)).text("ok");
    SearchBufferReader reader(buf.span(), 2);  // claims two, holds one
    EXPECT_TRUE(reader.next());
    EXPECT_THROW((void)reader.next(), MalformedItemError);
}

ItemHeader at(std::uint64_t objectid, std::uint32_t type, std::uint64_t offset) {
    ItemHeader h;
    h.objectid = objectid;
    h.type = type;
    h.offset = offset;
    return h;
}

TEST(NextSearchKey, AdvancesTheOffset) {
    SearchKey key;
    key.min_transid = 42;
    const auto next = next_search_key(key, at(300, 108, 4096));
    ASSERT_TRUE(next);
    EXPECT_EQ(next->min_objectid, 300u);
    EXPECT_EQ(next->min_type, 108u);
    EXPECT_EQ(next->min_offset, 4097u);
    EXPECT_EQ(next->min_transid, 42u);  // the rest of the key is kept
    EXPECT_EQ(next->max_objectid, kMaxU64);
}

TEST(NextSearchKey, OffsetOverflowCarriesIntoType) {
    SearchKey key;
    const auto next = next_search_key(key, at(300, 108, kMaxU64));
    ASSERT_TRUE(next);
    EXPECT_EQ(next->min_objectid, 300u);
    EXPECT_EQ(next->min_type, 109u);
    EXPECT_EQ(next->min_offset, 0u);
}

TEST(NextSearchKey, TypeOverflowCarriesIntoObjectid) {
    SearchKey key;
    const auto next = next_search_key(key, at(300, 255, kMaxU64));
    ASSERT_TRUE(next);
    EXPECT_EQ(next->min_objectid, 301u);
    EXPECT_EQ(next->min_type, 0u);
    EXPECT_EQ(next->min_offset, 0u);
}

TEST(NextSearchKey, NothingAfterTheLargestKey) {
    SearchKey key;
    EXPECT_FALSE(next_search_key(key, at(kMaxU64, 255, kMaxU64)));
}

TEST(NextSearchKey, StopsAtTheRangeMaximum) {
    SearchKey key;  // one inode's EXTENT_DATA items
    key.min_objectid = key.max_objectid = 300;
    key.min_type = key.max_type = 108;
    EXPECT_FALSE(next_search_key(key, at(300, 108, kMaxU64)));
    EXPECT_TRUE(next_search_key(key, at(300, 108, 8192)));
    key.max_offset = 8192;
    EXPECT_FALSE(next_search_key(key, at(300, 108, 8192)));
    EXPECT_TRUE(next_search_key(key, at(300, 108, 8191)));
}

TEST(NextSearchKey, ComparesAsATuple) {
    SearchKey key;
    key.max_objectid = 500;
    key.max_type = 1;
    key.max_offset = 0;
    // (499, 200, x) is below (500, 1, 0) although 200 > max_type.
    const auto next = next_search_key(key, at(499, 200, 7));
    ASSERT_TRUE(next);
    EXPECT_EQ(next->min_type, 200u);
    EXPECT_TRUE(next_search_key(key, at(499, 255, kMaxU64)));  // -> (500, 0, 0)
    EXPECT_FALSE(next_search_key(key, at(500, 1, 0)));         // -> (500, 1, 1): past
    EXPECT_TRUE(next_search_key(key, at(500, 0, kMaxU64)));    // -> (500, 1, 0)
}

}  // namespace
}  // namespace rdd::btrfs
