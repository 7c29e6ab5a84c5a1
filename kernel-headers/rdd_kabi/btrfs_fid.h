#pragma once
// The file handle btrfs hands out for open_by_handle_at(2) (fs/btrfs/export.h, export.c): type
// FILEID_BTRFS_WITHOUT_PARENT with the inode's objectid, its subvolume (root objectid) and its
// generation, packed little-endian fields as the kernel copies them. The generation makes the
// kernel answer ESTALE for a reused inode number instead of opening another file. Not UAPI (it
// is the export ABI of the on-disk identity), so declared here; the layout has been stable since
// Linux 2.6.29.
#include <linux/types.h>
#include <stddef.h>

#define RDD_FILEID_BTRFS_WITHOUT_PARENT 0x4d

struct rdd_btrfs_fid {
    __u64 objectid;
    __u64 root_objectid;
    __u32 gen;
    // Connectable handles (with the parent) continue here; we never ask for them.
} __attribute__((packed));

// The kernel sizes handles in 32-bit words: BTRFS_FID_SIZE_NON_CONNECTABLE = 5.
#define RDD_BTRFS_FID_SIZE_NON_CONNECTABLE_WORDS 5

#ifdef __cplusplus
static_assert(sizeof(struct rdd_btrfs_fid) == 20, "btrfs non-connectable fid is 20 bytes");
static_assert(offsetof(struct rdd_btrfs_fid, root_objectid) == 8, "root_objectid follows objectid");
static_assert(offsetof(struct rdd_btrfs_fid, gen) == 16, "gen follows root_objectid");
static_assert(sizeof(struct rdd_btrfs_fid) == RDD_BTRFS_FID_SIZE_NON_CONNECTABLE_WORDS * 4,
              "handle size in words");
#endif
