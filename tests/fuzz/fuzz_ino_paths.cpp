// BTRFS_IOC_INO_PATHS results (struct btrfs_data_container): every path returned is the
// NUL-terminated string at its offset inside the container, one per element.
#include <linux/btrfs.h>

#include <cstring>
#include <vector>

#include "fuzz_check.hpp"
#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/paths.hpp"

namespace {

template <typename T>
T host(const std::vector<std::byte>& b, std::size_t at) {
    T v;
    std::memcpy(&v, b.data() + at, sizeof v);
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto in = rdd::fuzz::bytes(data, size);
    const std::vector<std::byte> container(in.begin(), in.end());
    constexpr std::size_t kVal = offsetof(btrfs_data_container, val);
    try {
        const auto result = rdd::btrfs::parse_ino_paths(container);
        FUZZ_CHECK(container.size() >= kVal);
        FUZZ_CHECK(result.missed == host<std::uint32_t>(container, offsetof(btrfs_data_container, elem_missed)));
        const auto count = host<std::uint32_t>(container, offsetof(btrfs_data_container, elem_cnt));
        FUZZ_CHECK(result.paths.size() == count);
        for (std::size_t i = 0; i < count; ++i) {
            const auto rel = host<std::uint64_t>(container, kVal + i * 8);
            const std::string& p = result.paths[i];
            FUZZ_CHECK(rel < container.size() - kVal);
            const std::size_t start = kVal + rel;
            FUZZ_CHECK(p.size() < container.size() - start);  // its NUL is inside too
            FUZZ_CHECK(std::memcmp(p.data(), container.data() + start, p.size()) == 0);
            FUZZ_CHECK(container[start + p.size()] == std::byte{0});
            FUZZ_CHECK(p.find('\0') == std::string::npos);
        }
    } catch (const rdd::btrfs::MalformedItemError&) {
    }
    return 0;
}
