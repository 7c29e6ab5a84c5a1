// INODE_REF / INODE_EXTREF (an inode's names) and the root item's generation, from item bytes.
#include <linux/btrfs_tree.h>

#include <cstddef>

#include "le_bytes.hpp"
#include "reflinkdedup/btrfs/items.hpp"

namespace rdd::btrfs {

using detail::load_le;

static_assert(sizeof(btrfs_inode_ref) == 10, "INODE_REF entry header: le64 index, le16 name_len");
static_assert(sizeof(btrfs_inode_extref) == 18, "INODE_EXTREF entry header: parent, index, len");

std::vector<InodeName> parse_inode_refs(std::span<const std::byte> item, std::uint64_t parent) {
    constexpr const char* kWhat = "INODE_REF";
    std::vector<InodeName> names;
    std::size_t pos = 0;
    // Entries are packed back to back; the item ends exactly after the last name.
    while (pos < item.size()) {
        InodeName n;
        n.parent = parent;
        n.index = load_le<std::uint64_t>(item, pos + offsetof(btrfs_inode_ref, index), kWhat);
        const auto len =
            load_le<std::uint16_t>(item, pos + offsetof(btrfs_inode_ref, name_len), kWhat);
        n.name = detail::load_string(item, pos + sizeof(btrfs_inode_ref), len, kWhat);
        pos += sizeof(btrfs_inode_ref) + len;
        names.push_back(std::move(n));
    }
    return names;
}

std::vector<InodeName> parse_inode_extrefs(std::span<const std::byte> item) {
    constexpr const char* kWhat = "INODE_EXTREF";
    std::vector<InodeName> names;
    std::size_t pos = 0;
    while (pos < item.size()) {
        InodeName n;
        n.parent = load_le<std::uint64_t>(item, pos + offsetof(btrfs_inode_extref, parent_objectid),
                                          kWhat);
        n.index = load_le<std::uint64_t>(item, pos + offsetof(btrfs_inode_extref, index), kWhat);
        const auto len =
            load_le<std::uint16_t>(item, pos + offsetof(btrfs_inode_extref, name_len), kWhat);
        n.name = detail::load_string(item, pos + sizeof(btrfs_inode_extref), len, kWhat);
        pos += sizeof(btrfs_inode_extref) + len;
        names.push_back(std::move(n));
    }
    return names;
}

std::uint64_t parse_root_item_generation(std::span<const std::byte> item) {
    static_assert(offsetof(btrfs_root_item, generation) == 160);
    return load_le<std::uint64_t>(item, offsetof(btrfs_root_item, generation), "ROOT_ITEM");
}

}  // namespace rdd::btrfs
