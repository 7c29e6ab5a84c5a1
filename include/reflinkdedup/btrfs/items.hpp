#pragma once
// Pure parsers of the btrfs items the scanner reads, from the little-endian bytes a tree search
// returns. Every read is bounds-checked: a short or malformed item throws MalformedItemError.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace rdd::btrfs {

// Item types (BTRFS_*_KEY in linux/btrfs_tree.h) this module uses.
inline constexpr std::uint32_t kInodeItemKey = 1;
inline constexpr std::uint32_t kInodeRefKey = 12;
inline constexpr std::uint32_t kInodeExtrefKey = 13;
inline constexpr std::uint32_t kDirIndexKey = 96;
inline constexpr std::uint32_t kExtentDataKey = 108;
inline constexpr std::uint32_t kRootItemKey = 132;

inline constexpr std::uint64_t kFirstFreeObjectid = 256;  // a subvolume's root directory
inline constexpr std::uint64_t kLastFreeObjectid = static_cast<std::uint64_t>(-256);
inline constexpr std::uint64_t kRootTreeObjectid = 1;

struct BtrfsTime {
    std::uint64_t sec = 0;
    std::uint32_t nsec = 0;
    friend bool operator==(const BtrfsTime&, const BtrfsTime&) = default;
};

// struct btrfs_inode_item (160 bytes).
struct InodeItem {
    std::uint64_t generation = 0;  // transaction that created the inode (NFS generation)
    std::uint64_t transid = 0;     // last transaction that changed the inode in any way
    std::uint64_t size = 0;
    std::uint64_t nbytes = 0;  // bytes of data extents referenced (inline included)
    std::uint32_t nlink = 0;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::uint32_t mode = 0;
    std::uint64_t rdev = 0;
    std::uint64_t flags = 0;  // BTRFS_INODE_* (low 32 bits), read-only compat flags (high)
    std::uint64_t sequence = 0;
    BtrfsTime atime, ctime, mtime, otime;

    [[nodiscard]] bool nodatacow() const noexcept;
    [[nodiscard]] bool nodatasum() const noexcept;
    [[nodiscard]] bool immutable() const noexcept;
    [[nodiscard]] bool is_regular() const noexcept;
    [[nodiscard]] bool is_directory() const noexcept;
};

[[nodiscard]] InodeItem parse_inode_item(std::span<const std::byte> item);

// "NODATASUM|NODATACOW|IMMUTABLE", or "NONE" for 0. Unknown bits print as 0x... .
[[nodiscard]] std::string inode_flag_names(std::uint64_t flags);

enum class FileExtentType : std::uint8_t { Inline = 0, Regular = 1, Prealloc = 2 };

// struct btrfs_file_extent_item: 53 bytes, or 21 + inline data for inline extents (which have
// no disk fields).
struct FileExtentItem {
    std::uint64_t generation = 0;  // transaction that wrote the extent (kept by reflink/dedupe)
    std::uint64_t ram_bytes = 0;
    std::uint8_t compression = 0;  // 0 none, 1 zlib, 2 lzo, 3 zstd
    std::uint8_t encryption = 0;
    std::uint16_t other_encoding = 0;
    std::uint8_t type = 0;  // FileExtentType, raw: a newer kernel may add types
    // Regular and prealloc only:
    std::uint64_t disk_bytenr = 0;     // 0: a hole
    std::uint64_t disk_num_bytes = 0;  // size of the whole extent on disk
    std::uint64_t offset = 0;          // where this file range starts inside the extent
    std::uint64_t num_bytes = 0;       // length of this file range
    // Inline only:
    std::size_t inline_size = 0;  // bytes stored in the item (compressed size if compressed)

    [[nodiscard]] bool is_inline() const noexcept { return type == 0; }
    [[nodiscard]] bool has_disk_fields() const noexcept { return type == 1 || type == 2; }
    [[nodiscard]] bool is_hole() const noexcept { return has_disk_fields() && disk_bytenr == 0; }
};

// Throws MalformedItemError for items shorter than their type needs (21 bytes for any item, 53
// for regular and prealloc). Unknown types parse like regular ones when 53 bytes are there.
[[nodiscard]] FileExtentItem parse_file_extent_item(std::span<const std::byte> item);

// One name of an inode: INODE_REF (key offset = parent directory) or INODE_EXTREF (parent in the
// item). An item packs one entry per hard link in that directory.
struct InodeName {
    std::uint64_t parent = 0;  // directory inode
    std::uint64_t index = 0;   // its DIR_INDEX
    std::string name;
};

// INODE_REF item: entries {le64 index, le16 name_len, name}; parent comes from the key offset.
[[nodiscard]] std::vector<InodeName> parse_inode_refs(std::span<const std::byte> item,
                                                      std::uint64_t parent);
// INODE_EXTREF item: entries {le64 parent, le64 index, le16 name_len, name}.
[[nodiscard]] std::vector<InodeName> parse_inode_extrefs(std::span<const std::byte> item);

// struct btrfs_root_item's generation (after its embedded 160-byte inode item).
[[nodiscard]] std::uint64_t parse_root_item_generation(std::span<const std::byte> item);

}  // namespace rdd::btrfs
