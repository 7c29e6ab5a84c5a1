#include "reflinkdedup/ops/kernel_bugs.hpp"

#include <array>
#include <charconv>

namespace rdd::ops {

namespace {

// One number at the front of `s`, consumed; nullopt when s does not start with a digit.
std::optional<unsigned> take_number(std::string_view& s) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc()) return std::nullopt;
    s.remove_prefix(static_cast<std::size_t>(end - s.data()));
    return value;
}

// Versions as bees' table lists them (docs/btrfs-kernel.md, "Kernel Bug Tracking Table").
constexpr std::array<KernelVersion, 7> kHolePunchFixedIn{{
    {3, 16, 70}, {3, 18, 137}, {4, 4, 177}, {4, 9, 165}, {4, 14, 108}, {4, 19, 31}, {5, 0, 4}}};
constexpr std::array<KernelVersion, 1> kRelocRootFixedIn{{{5, 4, 14}}};

constexpr std::array<KernelBug, 2> kBugs{{
    // Dedupe agents make all-zero blocks share holes, which has the effect of a hole punch.
    {"silently corrupted data when reading compressed extents shared after a hole punch",
     "8e928218780e Btrfs: fix corruption reading shared and compressed extents after hole punching",
     {0, 0, 0},
     {5, 1, 0},
     kHolePunchFixedIn},
    // bees: "Linux kernel version 5.1, 5.2, and 5.3 should not be used with btrfs".
    {"metadata corruption and loss of the filesystem when a write meets a balance starting a block group",
     "6282675e6708 btrfs: relocation: fix reloc_root lifespan and access",
     {5, 1, 0},
     {5, 5, 0},
     kRelocRootFixedIn},
}};

std::string series_text(const KernelVersion& v) {
    return std::to_string(v.major) + "." + std::to_string(v.minor);
}

}  // namespace

std::optional<KernelVersion> parse_kernel_version(std::string_view text) {
    KernelVersion v;
    const auto major = take_number(text);
    if (!major || text.empty() || text.front() != '.') return std::nullopt;
    text.remove_prefix(1);
    const auto minor = take_number(text);
    if (!minor) return std::nullopt;
    v.major = *major;
    v.minor = *minor;
    if (!text.empty() && text.front() == '.') {
        text.remove_prefix(1);
        if (const auto patch = take_number(text)) v.patch = *patch;
    }
    return v;
}

std::string to_string(const KernelVersion& v) { return series_text(v) + "." + std::to_string(v.patch); }

std::optional<KernelVersion> upstream_kernel_version(std::string_view release, std::string_view uname_version,
                                                     std::string_view version_signature) {
    if (const auto space = version_signature.find_last_of(' '); space != std::string_view::npos) {
        std::string_view last = version_signature.substr(space + 1);
        while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.remove_suffix(1);
        if (const auto v = parse_kernel_version(last)) return v;
    }
    constexpr std::string_view kDebian = "Debian ";
    if (const auto at = uname_version.find(kDebian); at != std::string_view::npos) {
        if (const auto v = parse_kernel_version(uname_version.substr(at + kDebian.size()))) return v;
    }
    return parse_kernel_version(release);
}

std::span<const KernelBug> known_btrfs_dedupe_bugs() noexcept { return kBugs; }

bool affected(const KernelBug& bug, const KernelVersion& v) noexcept {
    if (v < bug.first_bad || v >= bug.fixed_from) return false;
    for (const KernelVersion& f : bug.fixed_in_stable) {
        if (f.major == v.major && f.minor == v.minor && v.patch >= f.patch) return false;
    }
    return true;
}

std::vector<const KernelBug*> btrfs_dedupe_bugs(const KernelVersion& v) {
    std::vector<const KernelBug*> out;
    for (const KernelBug& b : kBugs) {
        if (affected(b, v)) out.push_back(&b);
    }
    return out;
}

std::string fixed_versions_text(const KernelBug& bug) {
    std::string text = "fixed in ";
    for (const KernelVersion& f : bug.fixed_in_stable) text += to_string(f) + ", ";
    return text + series_text(bug.fixed_from) + " and later";
}

}  // namespace rdd::ops
