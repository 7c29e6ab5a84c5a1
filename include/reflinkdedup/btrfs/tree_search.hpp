#pragma once
// BTRFS_IOC_TREE_SEARCH_V2: walks a key range of one btrfs tree and yields (header, item bytes)
// one item at a time, refilling its buffer with as many ioctls as the range needs. Needs root.
//
// Keys compare as the tuple (objectid, type, offset): the range [min, max] is a range of that
// tuple, so for objectids strictly between min_objectid and max_objectid every type comes back.
// min_transid skips whole leaves older than it; items of newer leaves come back whatever their
// own generation, so callers filter on the item's own fields.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace rdd::btrfs {

inline constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();

struct SearchKey {
    std::uint64_t tree_id = 0;  // 0: the subvolume the fd is in
    std::uint64_t min_objectid = 0;
    std::uint64_t max_objectid = kMaxU64;
    std::uint32_t min_type = 0;
    std::uint32_t max_type = 255;
    std::uint64_t min_offset = 0;
    std::uint64_t max_offset = kMaxU64;
    std::uint64_t min_transid = 0;
    std::uint64_t max_transid = kMaxU64;
};

// struct btrfs_ioctl_search_header, in host byte order.
struct ItemHeader {
    std::uint64_t transid = 0;  // generation of the leaf the item was in
    std::uint64_t objectid = 0;
    std::uint64_t offset = 0;
    std::uint32_t type = 0;
    std::uint32_t len = 0;
};

struct SearchItem {
    ItemHeader header;
    std::span<const std::byte> data;  // header.len bytes, little-endian on-disk layout
};

// The key after `last` in (objectid, type, offset) order with carry (offset wraps into type,
// type into objectid), as the next search's minimum; nullopt once that passes key's maximum or
// `last` was the largest key there is.
[[nodiscard]] std::optional<SearchKey> next_search_key(const SearchKey& key,
                                                       const ItemHeader& last);

// Reads the items one search ioctl put in its buffer: nr_items (header, item) pairs packed from
// the start. Throws MalformedItemError when a header or item would run past the buffer.
class SearchBufferReader {
public:
    SearchBufferReader() noexcept = default;
    SearchBufferReader(std::span<const std::byte> buffer, std::uint32_t nr_items) noexcept
        : buffer_(buffer), remaining_(nr_items) {}

    [[nodiscard]] std::optional<SearchItem> next();
    [[nodiscard]] std::uint32_t remaining() const noexcept { return remaining_; }

private:
    std::span<const std::byte> buffer_;
    std::size_t pos_ = 0;
    std::uint32_t remaining_ = 0;
};

struct SearchStats {
    std::uint64_t ioctl_calls = 0;
    std::uint64_t items = 0;  // returned by the kernel, before any caller filtering
};

class TreeSearch {
public:
    // 1 MiB: a full pass over 100k inodes took 230 ms warm with 64 KiB, 179 ms with 1 MiB and
    // 275 ms with 16 MiB (KERNEL-FACTS §5). Pages the kernel does not fill are never touched.
    static constexpr std::size_t kDefaultBufferBytes = std::size_t{1} << 20;
    // The kernel caps one V2 search buffer at 16 MiB.
    static constexpr std::size_t kMaxBufferBytes = std::size_t{16} << 20;

    // fd: any file or directory in the filesystem (tree_id 0: in the subvolume to search).
    // path is for messages. The buffer grows (up to 16 MiB) if one item does not fit.
    TreeSearch(int fd, const SearchKey& key, std::string path,
               std::size_t buffer_bytes = kDefaultBufferBytes);
    ~TreeSearch();
    TreeSearch(const TreeSearch&) = delete;
    TreeSearch& operator=(const TreeSearch&) = delete;
    TreeSearch(TreeSearch&&) noexcept;
    TreeSearch& operator=(TreeSearch&&) noexcept;

    // The next item in key order; its data stays valid until the next call. nullopt at the end.
    // Throws NeedsRootError without CAP_SYS_ADMIN, SysError for other failures.
    [[nodiscard]] std::optional<SearchItem> next();

    // Items asked for per ioctl (default: as many as fit); 1 makes "first item in range" cheap.
    void set_items_per_call(std::uint32_t n) noexcept { items_per_call_ = n == 0 ? 1 : n; }

    [[nodiscard]] const SearchStats& stats() const noexcept { return stats_; }

private:
    [[nodiscard]] bool fetch();  // one ioctl; false when the range is exhausted
    void allocate(std::size_t buffer_bytes);

    int fd_;
    SearchKey key_;
    std::string path_;
    std::unique_ptr<std::uint64_t[]>
        storage_;  // u64 words: the ioctl struct needs 8-byte alignment
    std::size_t storage_bytes_ = 0;
    SearchBufferReader reader_;
    std::optional<ItemHeader> last_;
    bool exhausted_ = false;
    std::uint32_t items_per_call_ = std::numeric_limits<std::uint32_t>::max();
    SearchStats stats_;
};

}  // namespace rdd::btrfs
