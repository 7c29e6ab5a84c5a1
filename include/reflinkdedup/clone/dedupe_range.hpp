#pragma once
// FIDEDUPERANGE: the kernel compares the bytes under its inode locks and shares them only if
// they are equal, so a stale plan or a racing writer costs time, never data.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace rdd {

enum class DedupeStatus { Same, Differs, Failed };

struct DedupeTarget {
    int fd = -1;
    std::uint64_t offset = 0;
};

struct DedupeOutcome {
    DedupeStatus status = DedupeStatus::Failed;
    int error = 0;  // errno for Failed (EPERM immutable, EINVAL NOCOW, EXDEV, EAGAIN send, ...)
};

// One ioctl for `targets` (1..127 of them) against [src_offset, src_offset+length) of src_fd,
// length <= 1 GiB. Returns one outcome per target, in order. bytes_deduped is deliberately
// ignored: it echoes the request, not what was shared. Throws SysError when the call as a
// whole fails (e.g. EINVAL: the range passes the source's EOF), std::invalid_argument when the
// caller breaks the kernel limits.
[[nodiscard]] std::vector<DedupeOutcome> dedupe_range(int src_fd, std::uint64_t src_offset,
                                                      std::uint64_t length,
                                                      std::span<const DedupeTarget> targets,
                                                      const std::string& src_path);

}  // namespace rdd
