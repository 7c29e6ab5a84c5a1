#include "reflinkdedup/clone/extent_owners.hpp"

#include <btrfsutil.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

namespace {

// The kernel accepts up to 16 MiB for V2; most extents have a handful of references.
constexpr std::size_t kFirstBuffer = 64 * 1024;
constexpr std::size_t kMaxBuffer = 16 * 1024 * 1024;

template <typename T>
T load(std::span<const std::byte> bytes, std::size_t at) {
    if (at + sizeof(T) > bytes.size()) throw std::runtime_error("LOGICAL_INO: result runs past its buffer");
    T v;
    std::memcpy(&v, bytes.data() + at, sizeof v);
    return v;
}

}  // namespace

std::vector<ExtentReference> parse_logical_ino(std::span<const std::byte> container, std::uint32_t& missing) {
    missing = load<std::uint32_t>(container, offsetof(btrfs_data_container, bytes_missing));
    const auto count = load<std::uint32_t>(container, offsetof(btrfs_data_container, elem_cnt));
    if (count % 3 != 0) throw std::runtime_error("LOGICAL_INO: element count is not a multiple of 3");
    const std::size_t base = offsetof(btrfs_data_container, val);
    // Checked before reserve(), which a garbage count would make ask for up to 32 GiB.
    if (container.size() < base || count > (container.size() - base) / sizeof(std::uint64_t)) {
        throw std::runtime_error("LOGICAL_INO: result runs past its buffer");
    }
    std::vector<ExtentReference> out;
    out.reserve(count / 3);
    for (std::size_t i = 0; i < count; i += 3) {
        const std::size_t at = base + i * sizeof(std::uint64_t);
        out.push_back({load<std::uint64_t>(container, at), load<std::uint64_t>(container, at + 8),
                       load<std::uint64_t>(container, at + 16)});
    }
    return out;
}

std::vector<ExtentReference> extent_references(int fd, std::uint64_t extent, const std::string& path) {
    for (std::size_t size = kFirstBuffer;; size *= 4) {
        std::vector<std::uint64_t> buffer(size / sizeof(std::uint64_t));
        btrfs_ioctl_logical_ino_args args{};
        args.logical = extent;
        args.size = size;
        args.flags = BTRFS_LOGICAL_INO_ARGS_IGNORE_OFFSET;
        args.inodes = reinterpret_cast<std::uintptr_t>(buffer.data());
        if (::ioctl(fd, BTRFS_IOC_LOGICAL_INO_V2, &args) != 0) {
            throw_errno("BTRFS_IOC_LOGICAL_INO_V2(" + std::to_string(extent) + ")", path);
        }
        std::uint32_t missing = 0;
        auto refs = parse_logical_ino(std::as_bytes(std::span<const std::uint64_t>(buffer)), missing);
        if (missing == 0 || size >= kMaxBuffer) {
            if (missing != 0) {
                throw SysError(E2BIG, "BTRFS_IOC_LOGICAL_INO_V2(" + std::to_string(extent) + "): too many references",
                               path);
            }
            return refs;
        }
    }
}

ExtentOwners classify_owners(std::span<const ExtentReference> refs, std::uint64_t root, std::uint64_t ino,
                             const std::function<bool(std::uint64_t)>& read_only) {
    ExtentOwners owners = ExtentOwners::ThisFile;
    for (const ExtentReference& r : refs) {
        if (r.root == root && r.ino == ino) continue;
        if (read_only(r.root)) return ExtentOwners::ReadOnlySnapshot;
        owners = ExtentOwners::OtherFiles;
    }
    return owners;
}

bool ReadOnlyRoots::operator()(std::uint64_t root) {
    auto [it, added] = known_.try_emplace(root, false);
    if (added) {
        struct btrfs_util_subvolume_info info {};
        if (btrfs_util_subvolume_info_fd(fd_, root, &info) == BTRFS_UTIL_OK) {
            it->second = (info.flags & BTRFS_ROOT_SUBVOL_RDONLY) != 0;
        }
    }
    return it->second;
}

}  // namespace rdd
