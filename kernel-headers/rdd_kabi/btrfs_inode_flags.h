#pragma once
// BTRFS_INODE_* flags of btrfs_inode_item.flags (the on-disk inode flags, not FS_*_FL). The
// kernel kept them in fs/btrfs/ctree.h until they moved to include/uapi/linux/btrfs_tree.h after
// 6.1, so Debian 12's linux-libc-dev lacks them. Values are on-disk format and never change.
// The low 32 bits of btrfs_inode_item.flags hold these; the high 32 bits hold the read-only
// compat flags (BTRFS_INODE_RO_VERITY).
#include <linux/btrfs_tree.h>

#ifndef BTRFS_INODE_NODATASUM
#define BTRFS_INODE_NODATASUM (1U << 0)
#define BTRFS_INODE_NODATACOW (1U << 1)
#define BTRFS_INODE_READONLY (1U << 2)
#define BTRFS_INODE_NOCOMPRESS (1U << 3)
#define BTRFS_INODE_PREALLOC (1U << 4)
#define BTRFS_INODE_SYNC (1U << 5)
#define BTRFS_INODE_IMMUTABLE (1U << 6)
#define BTRFS_INODE_APPEND (1U << 7)
#define BTRFS_INODE_NODUMP (1U << 8)
#define BTRFS_INODE_NOATIME (1U << 9)
#define BTRFS_INODE_DIRSYNC (1U << 10)
#define BTRFS_INODE_COMPRESS (1U << 11)
#define BTRFS_INODE_ROOT_ITEM_INIT (1U << 31)
#endif

#ifndef BTRFS_INODE_RO_VERITY
#define BTRFS_INODE_RO_VERITY (1ULL << 0)  // in the high 32 bits of the on-disk flags
#endif

#ifdef __cplusplus
static_assert(BTRFS_INODE_NODATASUM == 0x1 && BTRFS_INODE_NODATACOW == 0x2, "on-disk inode flags");
static_assert(BTRFS_INODE_IMMUTABLE == 0x40 && BTRFS_INODE_APPEND == 0x80, "on-disk inode flags");
static_assert(BTRFS_INODE_COMPRESS == 0x800 && BTRFS_INODE_ROOT_ITEM_INIT == 0x80000000u,
              "on-disk inode flags");
// The structures these flags live in, as the parsers read them (from the 6.1 UAPI header).
static_assert(sizeof(struct btrfs_inode_item) == 160, "btrfs_inode_item is 160 bytes on disk");
static_assert(__builtin_offsetof(struct btrfs_inode_item, flags) == 64, "btrfs_inode_item.flags");
static_assert(sizeof(struct btrfs_file_extent_item) == 53, "btrfs_file_extent_item is 53 bytes");
static_assert(__builtin_offsetof(struct btrfs_file_extent_item, disk_bytenr) == 21,
              "inline data starts where disk_bytenr would");
#endif
