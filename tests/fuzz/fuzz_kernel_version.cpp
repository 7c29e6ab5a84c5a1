// Kernel version strings (uname release and version, /proc/version_signature): what parses
// prints back as a version that parses to itself, and the upstream version always comes from
// one of the three sources.
#include <algorithm>
#include <string>

#include "fuzz_check.hpp"
#include "reflinkdedup/ops/kernel_bugs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace rdd::ops;
    const std::string_view text = rdd::fuzz::text(data, size);
    if (const auto v = parse_kernel_version(text)) {
        FUZZ_CHECK(parse_kernel_version(to_string(*v)) == v);
        for (const KernelBug* bug : btrfs_dedupe_bugs(*v)) FUZZ_CHECK(affected(*bug, *v));
    }
    // The input split at its first two NULs into release, uname version and signature.
    const auto a = std::min(text.find('\0'), text.size());
    const auto release = text.substr(0, a);
    const auto rest = text.substr(std::min(a + 1, text.size()));
    const auto b = std::min(rest.find('\0'), rest.size());
    const auto uname_version = rest.substr(0, b);
    const auto signature = rest.substr(std::min(b + 1, rest.size()));
    if (const auto up = upstream_kernel_version(release, uname_version, signature)) {
        const auto release_version = parse_kernel_version(release);
        const bool from_release = release_version == up;
        const bool from_debian = uname_version.find("Debian ") != std::string_view::npos;
        const bool from_signature = signature.find(' ') != std::string_view::npos;
        FUZZ_CHECK(from_release || from_debian || from_signature);
    }
    return 0;
}
