#include "reflinkdedup/clone/dedupe_range.hpp"

#include <linux/fs.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "reflinkdedup/plan/kernel_limits.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

std::vector<DedupeOutcome> dedupe_range(int src_fd, std::uint64_t src_offset, std::uint64_t length,
                                        std::span<const DedupeTarget> targets,
                                        const std::string& src_path) {
    if (targets.empty() || targets.size() > kMaxDedupeDestinations) {
        throw std::invalid_argument("dedupe_range: 1..127 destinations per call");
    }
    if (length > kMaxDedupeBytes) throw std::invalid_argument("dedupe_range: over 1 GiB");

    // Header plus the flexible array of per-destination records, as one aligned buffer.
    const std::size_t bytes =
        sizeof(file_dedupe_range) + targets.size() * sizeof(file_dedupe_range_info);
    std::vector<std::uint64_t> storage((bytes + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t));
    auto* arg = reinterpret_cast<file_dedupe_range*>(storage.data());
    arg->src_offset = src_offset;
    arg->src_length = length;
    arg->dest_count = static_cast<std::uint16_t>(targets.size());
    for (std::size_t i = 0; i < targets.size(); ++i) {
        arg->info[i].dest_fd = targets[i].fd;
        arg->info[i].dest_offset = targets[i].offset;
    }

    int rc;
    do {
        rc = ::ioctl(src_fd, FIDEDUPERANGE, arg);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) throw_errno("FIDEDUPERANGE", src_path);

    std::vector<DedupeOutcome> out(targets.size());
    for (std::size_t i = 0; i < targets.size(); ++i) {
        const std::int32_t st = arg->info[i].status;
        if (st == FILE_DEDUPE_RANGE_SAME) {
            out[i].status = DedupeStatus::Same;
        } else if (st == FILE_DEDUPE_RANGE_DIFFERS) {
            out[i].status = DedupeStatus::Differs;
        } else {
            out[i].status = DedupeStatus::Failed;
            out[i].error = st < 0 ? -st : EIO;
        }
    }
    return out;
}

}  // namespace rdd
