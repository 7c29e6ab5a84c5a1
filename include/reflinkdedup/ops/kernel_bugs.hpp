#pragma once
// Linux kernels with known btrfs bugs that deduplication runs into. Pure: version strings in,
// verdicts out; the caller reads uname(2) and /proc/version_signature.
//
// Source: bees' kernel bug table (github.com/Zygo/bees, docs/btrfs-kernel.md), which tracks
// the btrfs bugs dedupe agents hit, with first bad / fixed versions and the fixing commits.
// Only bugs that corrupt data or metadata are refused here; hangs and slowness are not.
#include <compare>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rdd::ops {

struct KernelVersion {
    unsigned major = 0;
    unsigned minor = 0;
    unsigned patch = 0;

    friend constexpr auto operator<=>(const KernelVersion&, const KernelVersion&) = default;
};

// "6.18.44-fc-v595" -> 6.18.44, "5.10" -> 5.10.0; nullopt unless it starts with N.N.
[[nodiscard]] std::optional<KernelVersion> parse_kernel_version(std::string_view text);
[[nodiscard]] std::string to_string(const KernelVersion& v);

// The upstream version a kernel is built from. Distribution kernels often keep the patch
// level out of the release string (Debian "6.1.0-18-amd64", Ubuntu "5.4.0-100-generic"), so:
//   1. Ubuntu's /proc/version_signature ("Ubuntu 5.4.0-100.113-generic 5.4.166"): its last word;
//   2. Debian's uname version ("#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"): the
//      version after "Debian ";
//   3. the release (uname -r).
// Empty strings are absent sources.
[[nodiscard]] std::optional<KernelVersion> upstream_kernel_version(std::string_view release,
                                                                   std::string_view uname_version,
                                                                   std::string_view version_signature);

struct KernelBug {
    std::string_view summary;     // what goes wrong, one line
    std::string_view fix_commit;  // "6282675e6708 btrfs: relocation: fix reloc_root lifespan and access"
    KernelVersion first_bad;      // {0,0,0}: since the feature appeared
    KernelVersion fixed_from;     // every version at or after this is fixed
    // Stable series that got the fix earlier: version x.y.z fixes x.y.z and later x.y.*.
    std::span<const KernelVersion> fixed_in_stable;
};

// Every bug this table knows, oldest fix first.
[[nodiscard]] std::span<const KernelBug> known_btrfs_dedupe_bugs() noexcept;

// True when `v` lies in the bug's range and its stable series did not get the fix.
[[nodiscard]] bool affected(const KernelBug& bug, const KernelVersion& v) noexcept;

// The known bugs `v` has (empty: none known).
[[nodiscard]] std::vector<const KernelBug*> btrfs_dedupe_bugs(const KernelVersion& v);

// "fixed in 5.4.14, 5.5 and later" for messages.
[[nodiscard]] std::string fixed_versions_text(const KernelBug& bug);

}  // namespace rdd::ops
