// TREE_SEARCH_V2 results: SearchBufferReader walks the buffer, each item goes to the parser of
// its type (as the scanner does), and next_search_key continues after every item.
// Input: u32 nr_items (host order, as in the ioctl args), then the result buffer.
#include <cstring>
#include <tuple>
#include <vector>

#include "fuzz_check.hpp"
#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/items.hpp"
#include "reflinkdedup/btrfs/tree_search.hpp"

namespace {

using namespace rdd::btrfs;

constexpr std::size_t kHeaderBytes = 32;  // struct btrfs_ioctl_search_header

auto tuple_of(const ItemHeader& h) { return std::tuple{h.objectid, h.type, h.offset}; }

// Each parser either succeeds or throws MalformedItemError; anything else escapes and crashes.
void parse_item(const SearchItem& item) {
    try {
        switch (item.header.type) {
        case kInodeItemKey: (void)parse_inode_item(item.data); break;
        case kInodeRefKey: (void)parse_inode_refs(item.data, item.header.offset); break;
        case kInodeExtrefKey: (void)parse_inode_extrefs(item.data); break;
        case kExtentDataKey: (void)parse_file_extent_item(item.data); break;
        case kRootItemKey: (void)parse_root_item_generation(item.data); break;
        default: break;
        }
    } catch (const MalformedItemError&) {
    }
}

// The continuation key lies strictly after `last` and within the range, and keeps the rest.
void check_next_key(const SearchKey& key, const ItemHeader& last) {
    const auto next = next_search_key(key, last);
    const auto max = std::tuple{key.max_objectid, key.max_type, key.max_offset};
    if (!next) {
        FUZZ_CHECK(tuple_of(last) >= max || (last.type >= 255 && last.offset == kMaxU64 &&
                                             last.objectid >= key.max_objectid));
        return;
    }
    const auto min = std::tuple{next->min_objectid, next->min_type, next->min_offset};
    FUZZ_CHECK(min > tuple_of(last));
    FUZZ_CHECK(min <= max);
    FUZZ_CHECK(next->tree_id == key.tree_id && next->min_transid == key.min_transid);
    FUZZ_CHECK(next->max_objectid == key.max_objectid && next->max_type == key.max_type &&
               next->max_offset == key.max_offset && next->max_transid == key.max_transid);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < sizeof(std::uint32_t)) return 0;
    std::uint32_t nr_items = 0;
    std::memcpy(&nr_items, data, sizeof nr_items);
    const auto buffer = rdd::fuzz::bytes(data + sizeof nr_items, size - sizeof nr_items);

    SearchBufferReader reader(buffer, nr_items);
    std::size_t pos = 0;
    std::uint32_t yielded = 0;
    std::vector<ItemHeader> headers;
    try {
        while (const auto item = reader.next()) {
            ++yielded;
            // Packed from the start: header, then exactly header.len item bytes.
            FUZZ_CHECK(item->data.data() == buffer.data() + pos + kHeaderBytes);
            FUZZ_CHECK(item->data.size() == item->header.len);
            pos += kHeaderBytes + item->data.size();
            FUZZ_CHECK(pos <= buffer.size());
            FUZZ_CHECK(reader.remaining() == nr_items - yielded);
            parse_item(*item);
            headers.push_back(item->header);
        }
        FUZZ_CHECK(yielded == nr_items);
    } catch (const MalformedItemError&) {
        // Only when the next header or item would not fit.
        FUZZ_CHECK(yielded < nr_items);
        const std::size_t left = buffer.size() - pos;
        std::uint32_t len = 0;
        if (left >= kHeaderBytes) std::memcpy(&len, buffer.data() + pos + 28, sizeof len);
        FUZZ_CHECK(left < kHeaderBytes || len > left - kHeaderBytes);
    }

    // Continue after each item: over the whole key space, and up to the first item's key.
    SearchKey all;
    for (const auto& h : headers) check_next_key(all, h);
    if (!headers.empty()) {
        SearchKey upto;
        upto.max_objectid = headers.front().objectid;
        upto.max_type = headers.front().type;
        upto.max_offset = headers.front().offset;
        for (const auto& h : headers) check_next_key(upto, h);
    }
    return 0;
}
