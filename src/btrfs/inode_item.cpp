// struct btrfs_inode_item from item bytes.
#include <linux/btrfs_tree.h>
#include <rdd_kabi/btrfs_inode_flags.h>
#include <sys/stat.h>

#include <array>
#include <cstddef>
#include <cstdio>

#include "le_bytes.hpp"
#include "reflinkdedup/btrfs/items.hpp"

namespace rdd::btrfs {

using detail::load_le;

namespace {

constexpr const char* kWhat = "INODE_ITEM";

BtrfsTime load_time(std::span<const std::byte> item, std::size_t at) {
    return {load_le<std::uint64_t>(item, at + offsetof(btrfs_timespec, sec), kWhat),
            load_le<std::uint32_t>(item, at + offsetof(btrfs_timespec, nsec), kWhat)};
}

}  // namespace

InodeItem parse_inode_item(std::span<const std::byte> item) {
    // The item is never shorter than the struct; the kernel may one day append fields.
    detail::require_bytes(item, 0, sizeof(btrfs_inode_item), kWhat);
    InodeItem in;
    in.generation = load_le<std::uint64_t>(item, offsetof(btrfs_inode_item, generation), kWhat);
    in.transid = load_le<std::uint64_t>(item, offsetof(btrfs_inode_item, transid), kWhat);
    in.size = load_le<std::uint64_t>(item, offsetof(btrfs_inode_item, size), kWhat);
    in.nbytes = load_le<std::uint64_t>(item, offsetof(btrfs_inode_item, nbytes), kWhat);
    in.nlink = load_le<std::uint32_t>(item, offsetof(btrfs_inode_item, nlink), kWhat);
    in.uid = load_le<std::uint32_t>(item, offsetof(btrfs_inode_item, uid), kWhat);
    in.gid = load_le<std::uint32_t>(item, offsetof(btrfs_inode_item, gid), kWhat);
    in.mode = load_le<std::uint32_t>(item, offsetof(btrfs_inode_item, mode), kWhat);
    in.rdev = load_le<std::uint64_t>(item, offsetof(btrfs_inode_item, rdev), kWhat);
    in.flags = load_le<std::uint64_t>(item, offsetof(btrfs_inode_item, flags), kWhat);
    in.sequence = load_le<std::uint64_t>(item, offsetof(btrfs_inode_item, sequence), kWhat);
    in.atime = load_time(item, offsetof(btrfs_inode_item, atime));
    in.ctime = load_time(item, offsetof(btrfs_inode_item, ctime));
    in.mtime = load_time(item, offsetof(btrfs_inode_item, mtime));
    in.otime = load_time(item, offsetof(btrfs_inode_item, otime));
    return in;
}

bool InodeItem::nodatacow() const noexcept {
    return (flags & BTRFS_INODE_NODATACOW) != 0;
}
bool InodeItem::nodatasum() const noexcept {
    return (flags & BTRFS_INODE_NODATASUM) != 0;
}
bool InodeItem::immutable() const noexcept {
    return (flags & BTRFS_INODE_IMMUTABLE) != 0;
}
bool InodeItem::is_regular() const noexcept {
    return S_ISREG(mode);
}
bool InodeItem::is_directory() const noexcept {
    return S_ISDIR(mode);
}

std::string inode_flag_names(std::uint64_t flags) {
    struct Named {
        std::uint64_t bit;
        const char* name;
    };
    static constexpr std::array kNames{
        Named{BTRFS_INODE_NODATASUM, "NODATASUM"},
        Named{BTRFS_INODE_NODATACOW, "NODATACOW"},
        Named{BTRFS_INODE_READONLY, "READONLY"},
        Named{BTRFS_INODE_NOCOMPRESS, "NOCOMPRESS"},
        Named{BTRFS_INODE_PREALLOC, "PREALLOC"},
        Named{BTRFS_INODE_SYNC, "SYNC"},
        Named{BTRFS_INODE_IMMUTABLE, "IMMUTABLE"},
        Named{BTRFS_INODE_APPEND, "APPEND"},
        Named{BTRFS_INODE_NODUMP, "NODUMP"},
        Named{BTRFS_INODE_NOATIME, "NOATIME"},
        Named{BTRFS_INODE_DIRSYNC, "DIRSYNC"},
        Named{BTRFS_INODE_COMPRESS, "COMPRESS"},
        Named{BTRFS_INODE_ROOT_ITEM_INIT, "ROOT_ITEM_INIT"},
        Named{BTRFS_INODE_RO_VERITY << 32, "RO_VERITY"},
    };
    std::string out;
    std::uint64_t rest = flags;
    for (const auto& n : kNames) {
        if ((flags & n.bit) == 0) continue;
        if (!out.empty()) out += '|';
        out += n.name;
        rest &= ~n.bit;
    }
    if (rest != 0) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(rest));
        if (!out.empty()) out += '|';
        out += buf;
    }
    return out.empty() ? "NONE" : out;
}

}  // namespace rdd::btrfs
