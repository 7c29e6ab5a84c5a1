// struct btrfs_file_extent_item from item bytes.
#include <linux/btrfs_tree.h>

#include <cstddef>

#include "le_bytes.hpp"
#include "reflinkdedup/btrfs/items.hpp"

namespace rdd::btrfs {

using detail::load_le;

namespace {
constexpr const char* kWhat = "EXTENT_DATA";
// Inline data starts where disk_bytenr would be.
constexpr std::size_t kInlineHeader = offsetof(btrfs_file_extent_item, disk_bytenr);
static_assert(kInlineHeader == 21);
}  // namespace

FileExtentItem parse_file_extent_item(std::span<const std::byte> item) {
    detail::require_bytes(item, 0, kInlineHeader, kWhat);
    FileExtentItem fe;
    fe.generation =
        load_le<std::uint64_t>(item, offsetof(btrfs_file_extent_item, generation), kWhat);
    fe.ram_bytes = load_le<std::uint64_t>(item, offsetof(btrfs_file_extent_item, ram_bytes), kWhat);
    fe.compression =
        load_le<std::uint8_t>(item, offsetof(btrfs_file_extent_item, compression), kWhat);
    fe.encryption =
        load_le<std::uint8_t>(item, offsetof(btrfs_file_extent_item, encryption), kWhat);
    fe.other_encoding =
        load_le<std::uint16_t>(item, offsetof(btrfs_file_extent_item, other_encoding), kWhat);
    fe.type = load_le<std::uint8_t>(item, offsetof(btrfs_file_extent_item, type), kWhat);
    if (fe.type == BTRFS_FILE_EXTENT_INLINE) {
        fe.inline_size = item.size() - kInlineHeader;
        return fe;
    }
    detail::require_bytes(item, 0, sizeof(btrfs_file_extent_item), kWhat);
    fe.disk_bytenr =
        load_le<std::uint64_t>(item, offsetof(btrfs_file_extent_item, disk_bytenr), kWhat);
    fe.disk_num_bytes =
        load_le<std::uint64_t>(item, offsetof(btrfs_file_extent_item, disk_num_bytes), kWhat);
    fe.offset = load_le<std::uint64_t>(item, offsetof(btrfs_file_extent_item, offset), kWhat);
    fe.num_bytes = load_le<std::uint64_t>(item, offsetof(btrfs_file_extent_item, num_bytes), kWhat);
    return fe;
}

}  // namespace rdd::btrfs
