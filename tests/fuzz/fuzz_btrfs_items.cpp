// The btrfs item parsers against an independent oracle: every field must equal the
// little-endian bytes at its offset in the kernel's struct, names must re-encode to exactly
// the item, and an item is refused exactly when it is too short for its type.
// Input: one selector byte, 8 bytes of key offset (an INODE_REF's parent), then the item.
#include <linux/btrfs_tree.h>

#include <cstddef>
#include <vector>

#include "fuzz_check.hpp"
#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/items.hpp"

namespace {

using namespace rdd::btrfs;
using rdd::fuzz::le;
using Bytes = std::span<const std::byte>;

void check_time(Bytes b, std::size_t at, const BtrfsTime& t) {
    FUZZ_CHECK(t.sec == le<std::uint64_t>(b, at) && t.nsec == le<std::uint32_t>(b, at + 8));
}

void inode_item(Bytes b) {
    try {
        const InodeItem in = parse_inode_item(b);
        FUZZ_CHECK(b.size() >= sizeof(btrfs_inode_item));
        FUZZ_CHECK(in.generation == le<std::uint64_t>(b, offsetof(btrfs_inode_item, generation)));
        FUZZ_CHECK(in.transid == le<std::uint64_t>(b, offsetof(btrfs_inode_item, transid)));
        FUZZ_CHECK(in.size == le<std::uint64_t>(b, offsetof(btrfs_inode_item, size)));
        FUZZ_CHECK(in.nbytes == le<std::uint64_t>(b, offsetof(btrfs_inode_item, nbytes)));
        FUZZ_CHECK(in.nlink == le<std::uint32_t>(b, offsetof(btrfs_inode_item, nlink)));
        FUZZ_CHECK(in.uid == le<std::uint32_t>(b, offsetof(btrfs_inode_item, uid)));
        FUZZ_CHECK(in.gid == le<std::uint32_t>(b, offsetof(btrfs_inode_item, gid)));
        FUZZ_CHECK(in.mode == le<std::uint32_t>(b, offsetof(btrfs_inode_item, mode)));
        FUZZ_CHECK(in.rdev == le<std::uint64_t>(b, offsetof(btrfs_inode_item, rdev)));
        FUZZ_CHECK(in.flags == le<std::uint64_t>(b, offsetof(btrfs_inode_item, flags)));
        FUZZ_CHECK(in.sequence == le<std::uint64_t>(b, offsetof(btrfs_inode_item, sequence)));
        check_time(b, offsetof(btrfs_inode_item, atime), in.atime);
        check_time(b, offsetof(btrfs_inode_item, ctime), in.ctime);
        check_time(b, offsetof(btrfs_inode_item, mtime), in.mtime);
        check_time(b, offsetof(btrfs_inode_item, otime), in.otime);
        FUZZ_CHECK(!inode_flag_names(in.flags).empty());
    } catch (const MalformedItemError&) {
        FUZZ_CHECK(b.size() < sizeof(btrfs_inode_item));
    }
}

void file_extent_item(Bytes b) {
    constexpr std::size_t kInline = offsetof(btrfs_file_extent_item, disk_bytenr);
    try {
        const FileExtentItem fe = parse_file_extent_item(b);
        FUZZ_CHECK(b.size() >= kInline);
        FUZZ_CHECK(fe.generation == le<std::uint64_t>(b, offsetof(btrfs_file_extent_item, generation)));
        FUZZ_CHECK(fe.ram_bytes == le<std::uint64_t>(b, offsetof(btrfs_file_extent_item, ram_bytes)));
        FUZZ_CHECK(fe.compression == le<std::uint8_t>(b, offsetof(btrfs_file_extent_item, compression)));
        FUZZ_CHECK(fe.type == le<std::uint8_t>(b, offsetof(btrfs_file_extent_item, type)));
        if (fe.is_inline()) {
            FUZZ_CHECK(fe.inline_size == b.size() - kInline);  // the data lies inside the item
            FUZZ_CHECK(fe.disk_bytenr == 0 && fe.num_bytes == 0 && !fe.is_hole());
            return;
        }
        FUZZ_CHECK(b.size() >= sizeof(btrfs_file_extent_item));
        FUZZ_CHECK(fe.disk_bytenr == le<std::uint64_t>(b, offsetof(btrfs_file_extent_item, disk_bytenr)));
        FUZZ_CHECK(fe.disk_num_bytes ==
                   le<std::uint64_t>(b, offsetof(btrfs_file_extent_item, disk_num_bytes)));
        FUZZ_CHECK(fe.offset == le<std::uint64_t>(b, offsetof(btrfs_file_extent_item, offset)));
        FUZZ_CHECK(fe.num_bytes == le<std::uint64_t>(b, offsetof(btrfs_file_extent_item, num_bytes)));
        FUZZ_CHECK(fe.inline_size == 0);
    } catch (const MalformedItemError&) {
        FUZZ_CHECK(b.size() < kInline ||
                   (b[offsetof(btrfs_file_extent_item, type)] != std::byte{BTRFS_FILE_EXTENT_INLINE} &&
                    b.size() < sizeof(btrfs_file_extent_item)));
    }
}

// Entries re-encoded with the same header layout must give back the item byte for byte.
void names(Bytes b, bool extref, std::uint64_t parent) {
    const std::size_t header = extref ? sizeof(btrfs_inode_extref) : sizeof(btrfs_inode_ref);
    try {
        const auto entries = extref ? parse_inode_extrefs(b) : parse_inode_refs(b, parent);
        std::vector<std::byte> again;
        const auto put = [&again](std::uint64_t v, std::size_t n) {
            for (std::size_t i = 0; i < n; ++i) again.push_back(static_cast<std::byte>(v >> (8 * i)));
        };
        for (const auto& e : entries) {
            if (extref) put(e.parent, 8);
            else FUZZ_CHECK(e.parent == parent);
            put(e.index, 8);
            FUZZ_CHECK(e.name.size() <= 0xffff);
            put(e.name.size(), 2);
            for (const char c : e.name) again.push_back(static_cast<std::byte>(c));
        }
        FUZZ_CHECK(again.size() == b.size());
        FUZZ_CHECK(std::equal(again.begin(), again.end(), b.begin()));
    } catch (const MalformedItemError&) {
        // Refused only when the last entry's header or name runs past the item.
        std::size_t pos = 0;
        while (pos + header <= b.size()) {
            pos += header + le<std::uint16_t>(b, pos + header - 2);
        }
        FUZZ_CHECK(pos != b.size());
    }
}

void root_item(Bytes b) {
    try {
        FUZZ_CHECK(parse_root_item_generation(b) == le<std::uint64_t>(b, offsetof(btrfs_root_item, generation)));
    } catch (const MalformedItemError&) {
        FUZZ_CHECK(b.size() < offsetof(btrfs_root_item, generation) + 8);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 9) return 0;
    const std::uint64_t parent = le<std::uint64_t>(rdd::fuzz::bytes(data + 1, 8), 0);
    // A copy of exactly the item's size, so ASan sees any read past its end.
    const std::vector<std::byte> item(reinterpret_cast<const std::byte*>(data) + 9,
                                      reinterpret_cast<const std::byte*>(data) + size);
    switch (data[0] % 5) {
    case 0: inode_item(item); break;
    case 1: file_extent_item(item); break;
    case 2: names(item, false, parent); break;
    case 3: names(item, true, parent); break;
    default: root_item(item); break;
    }
    return 0;
}
