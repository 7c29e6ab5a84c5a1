#pragma once
// Limits of one FIDEDUPERANGE call, measured on Linux 6.18 (see shared/KERNEL-FACTS.md §1).
#include <cstdint>

namespace rdd {

// 24-byte header + 32 bytes per destination must fit one 4 KiB page: 128 gives ENOMEM.
inline constexpr std::uint32_t kMaxDedupeDestinations = 127;
// fs/remap_range.c silently caps a single dedupe request at 1 GiB.
inline constexpr std::uint64_t kMaxDedupeBytes = std::uint64_t{1} << 30;

}  // namespace rdd
