// TreeSearch against a real tree: continuation across many ioctls gives exactly what one big
// buffer gives, and an item larger than the buffer grows it instead of failing.
#include <sys/xattr.h>

#include "btrfs_fixture.hpp"
#include "reflinkdedup/btrfs/items.hpp"
#include "reflinkdedup/btrfs/tree_search.hpp"

namespace rdd::btrfs::test {
namespace {

class TreeSearchOnBtrfs : public BtrfsTest {};

struct Seen {
    ItemHeader h;
    std::vector<std::byte> data;
};

std::vector<Seen> collect(int fd, const SearchKey& key, const std::string& where,
                          std::size_t buffer, SearchStats* stats = nullptr) {
    TreeSearch s(fd, key, where, buffer);
    std::vector<Seen> out;
    while (auto item = s.next())
        out.push_back({item->header, {item->data.begin(), item->data.end()}});
    if (stats) *stats = s.stats();
    return out;
}

TEST_F(TreeSearchOnBtrfs, SmallBuffersContinueExactlyWhereTheyStopped) {
    const auto sv = create_subvolume("sv");
    for (int i = 0; i < 1500; ++i)
        write_text(sv / ("file-" + std::to_string(i)),
                   std::string(static_cast<std::size_t>(i % 50), 'c'));
    const UniqueFd fd = open_dir(sv);
    (void)committed_generation(fd.get(), sv);
    const SearchKey all;  // every item of the subvolume's tree
    SearchStats big_stats, small_stats;
    const auto big = collect(fd.get(), all, sv, 16 << 20, &big_stats);
    const auto small = collect(fd.get(), all, sv, 4096, &small_stats);
    ASSERT_EQ(big.size(), small.size());
    ASSERT_GT(big.size(), 1500u * 4);
    for (std::size_t i = 0; i < big.size(); ++i) {
        ASSERT_EQ(big[i].h.objectid, small[i].h.objectid) << i;
        ASSERT_EQ(big[i].h.type, small[i].h.type) << i;
        ASSERT_EQ(big[i].h.offset, small[i].h.offset) << i;
        ASSERT_EQ(big[i].data, small[i].data) << i;
        if (i > 0) {  // strictly increasing keys: nothing repeated, nothing skipped backwards
            const auto& a = big[i - 1].h;
            const auto& b = big[i].h;
            ASSERT_TRUE(std::tie(a.objectid, a.type, a.offset) <
                        std::tie(b.objectid, b.type, b.offset));
        }
    }
    EXPECT_LE(big_stats.ioctl_calls, 3u);
    EXPECT_GT(small_stats.ioctl_calls, 50u);
    EXPECT_EQ(small_stats.items, small.size());

    // Items per call limited to 1: same again.
    TreeSearch one(fd.get(), all, sv);
    one.set_items_per_call(1);
    std::size_t n = 0;
    while (one.next()) ++n;
    EXPECT_EQ(n, big.size());
    EXPECT_EQ(one.stats().ioctl_calls, big.size() + 1);  // the last call finds nothing
}

TEST_F(TreeSearchOnBtrfs, AnItemLargerThanTheBufferGrowsIt) {
    const auto sv = create_subvolume("sv");
    write_text(sv / "f", "x");
    const std::string value(12000, 'v');  // one XATTR_ITEM of ~12 KiB
    ASSERT_EQ(::setxattr((sv / "f").c_str(), "user.big", value.data(), value.size(), 0), 0);
    const UniqueFd fd = open_dir(sv);
    (void)committed_generation(fd.get(), sv);
    SearchKey key;
    key.min_objectid = key.max_objectid = ino_of(sv / "f");
    const auto items = collect(fd.get(), key, sv, 4096);
    const auto xattr =
        std::find_if(items.begin(), items.end(), [](const Seen& s) { return s.h.type == 24; });
    ASSERT_NE(xattr, items.end());
    EXPECT_GT(xattr->data.size(), 12000u);
    EXPECT_EQ(std::count(xattr->data.begin(), xattr->data.end(), std::byte{'v'}), 12000);
    EXPECT_EQ(items.front().h.type, kInodeItemKey);
}

TEST_F(TreeSearchOnBtrfs, TransidFilterSkipsOldLeaves) {
    const auto sv = create_subvolume("sv");
    for (int i = 0; i < 3000; ++i) write_text(sv / ("old-" + std::to_string(i)), "o");
    const UniqueFd fd = open_dir(sv);
    const std::uint64_t g = committed_generation(fd.get(), sv);
    write_text(sv / "old-1500", "changed", /*append=*/true);
    (void)committed_generation(fd.get(), sv);
    SearchKey key;
    key.min_transid = g + 1;
    SearchStats stats;
    const auto items = collect(fd.get(), key, sv, TreeSearch::kDefaultBufferBytes, &stats);
    // Only the leaves touched by the change come back: a few hundred items, not 15000.
    EXPECT_LT(items.size(), 1000u);
    EXPECT_TRUE(std::any_of(items.begin(), items.end(), [&](const Seen& s) {
        return s.h.objectid == ino_of(sv / "old-1500") && s.h.type == kInodeItemKey;
    }));
    for (const auto& s : items) EXPECT_GT(s.h.transid, g) << "leaf generation";
    EXPECT_LE(stats.ioctl_calls, 2u);
}

}  // namespace
}  // namespace rdd::btrfs::test
