// BTRFS_IOC_LOGICAL_INO_V2 results (struct btrfs_data_container of (ino, offset, root)
// triples): each reference is three u64 inside the container, and no input may make the
// parser allocate more than the container could describe.
#include <linux/btrfs.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "fuzz_check.hpp"
#include "reflinkdedup/clone/extent_owners.hpp"

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
    std::uint32_t missing = 0;
    try {
        const auto refs = rdd::parse_logical_ino(container, missing);
        FUZZ_CHECK(container.size() >= kVal);
        FUZZ_CHECK(missing == host<std::uint32_t>(container, offsetof(btrfs_data_container, bytes_missing)));
        const auto count = host<std::uint32_t>(container, offsetof(btrfs_data_container, elem_cnt));
        FUZZ_CHECK(count % 3 == 0 && refs.size() == count / 3);
        FUZZ_CHECK(kVal + refs.size() * 24 <= container.size());
        for (std::size_t i = 0; i < refs.size(); ++i) {
            const std::size_t at = kVal + i * 24;
            FUZZ_CHECK(refs[i].ino == host<std::uint64_t>(container, at));
            FUZZ_CHECK(refs[i].offset == host<std::uint64_t>(container, at + 8));
            FUZZ_CHECK(refs[i].root == host<std::uint64_t>(container, at + 16));
        }
    } catch (const std::runtime_error&) {
    }
    return 0;
}
