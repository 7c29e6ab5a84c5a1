// The pure half of tree search: walking one ioctl's result buffer, and where the next ioctl
// starts.
#include <linux/btrfs.h>

#include <cstring>
#include <string>

#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/tree_search.hpp"

namespace rdd::btrfs {

static_assert(sizeof(btrfs_ioctl_search_header) == 32, "search header is 32 bytes in the ABI");

std::optional<SearchItem> SearchBufferReader::next() {
    if (remaining_ == 0) return std::nullopt;
    const std::size_t left = buffer_.size() - pos_;
    if (left < sizeof(btrfs_ioctl_search_header)) {
        throw MalformedItemError("tree search result: header at byte " + std::to_string(pos_) +
                                 " runs past the " + std::to_string(buffer_.size()) +
                                 "-byte buffer");
    }
    btrfs_ioctl_search_header raw{};
    std::memcpy(&raw, buffer_.data() + pos_, sizeof raw);  // ioctl struct: host byte order
    const std::size_t item_pos = pos_ + sizeof raw;
    if (raw.len > buffer_.size() - item_pos) {
        throw MalformedItemError("tree search result: item of " + std::to_string(raw.len) +
                                 " bytes at byte " + std::to_string(item_pos) + " runs past the " +
                                 std::to_string(buffer_.size()) + "-byte buffer");
    }
    SearchItem item;
    item.header = ItemHeader{raw.transid, raw.objectid, raw.offset, raw.type, raw.len};
    item.data = buffer_.subspan(item_pos, raw.len);
    pos_ = item_pos + raw.len;
    --remaining_;
    return item;
}

std::optional<SearchKey> next_search_key(const SearchKey& key, const ItemHeader& last) {
    // Key types are 8 bits on disk; a header never carries more.
    std::uint64_t objectid = last.objectid;
    std::uint32_t type = last.type;
    std::uint64_t offset = last.offset;
    if (offset < kMaxU64) {
        ++offset;
    } else if (type < 255) {
        ++type;
        offset = 0;
    } else if (objectid < kMaxU64) {
        ++objectid;
        type = 0;
        offset = 0;
    } else {
        return std::nullopt;  // (max, 255, max): nothing comes after it
    }
    // Past the range's maximum, compared as the (objectid, type, offset) tuple?
    const auto beyond = [&] {
        if (objectid != key.max_objectid) return objectid > key.max_objectid;
        if (type != key.max_type) return type > key.max_type;
        return offset > key.max_offset;
    };
    if (beyond()) return std::nullopt;
    SearchKey next = key;
    next.min_objectid = objectid;
    next.min_type = type;
    next.min_offset = offset;
    return next;
}

}  // namespace rdd::btrfs
