#pragma once
// FS_IOC_GETFSUUID (Linux 6.5+, include/uapi/linux/fs.h): the filesystem's UUID as the
// superblock has it. Debian 12's linux-libc-dev (6.1) predates it, so it is declared here from
// the ABI; the system's definition wins where it exists.
#include <linux/ioctl.h>
#include <linux/types.h>

#ifndef FS_IOC_GETFSUUID
struct fsuuid2 {
    __u8 len;
    __u8 uuid[16];
};
#define FS_IOC_GETFSUUID _IOR(0x15, 0, struct fsuuid2)
#endif

#ifdef __cplusplus
static_assert(sizeof(struct fsuuid2) == 17, "struct fsuuid2 is 17 bytes in the kernel ABI");
static_assert(FS_IOC_GETFSUUID == 0x80111500u, "FS_IOC_GETFSUUID = _IOR(0x15, 0, 17 bytes)");
#endif
