// BTRFS_IOC_TREE_SEARCH_V2 over a key range, one buffer-full per ioctl.
#include <linux/btrfs.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/tree_search.hpp"

namespace rdd::btrfs {

namespace {

constexpr std::size_t kArgsBytes = sizeof(btrfs_ioctl_search_args_v2);  // key + buf_size
static_assert(kArgsBytes == 112, "btrfs_ioctl_search_args_v2 header is 112 bytes in the ABI");
static_assert(kArgsBytes % sizeof(std::uint64_t) == 0);

btrfs_ioctl_search_key to_kernel(const SearchKey& key, std::uint32_t nr_items) {
    btrfs_ioctl_search_key sk{};
    sk.tree_id = key.tree_id;
    sk.min_objectid = key.min_objectid;
    sk.max_objectid = key.max_objectid;
    sk.min_offset = key.min_offset;
    sk.max_offset = key.max_offset;
    sk.min_transid = key.min_transid;
    sk.max_transid = key.max_transid;
    sk.min_type = key.min_type;
    sk.max_type = key.max_type;
    sk.nr_items = nr_items;
    return sk;
}

}  // namespace

TreeSearch::TreeSearch(int fd, const SearchKey& key, std::string path, std::size_t buffer_bytes)
    : fd_(fd), key_(key), path_(std::move(path)) {
    allocate(std::clamp<std::size_t>(buffer_bytes, 4096, kMaxBufferBytes));
}

TreeSearch::~TreeSearch() = default;
TreeSearch::TreeSearch(TreeSearch&&) noexcept = default;
TreeSearch& TreeSearch::operator=(TreeSearch&&) noexcept = default;

void TreeSearch::allocate(std::size_t buffer_bytes) {
    const std::size_t words = (kArgsBytes + buffer_bytes + 7) / 8;
    // for_overwrite: the kernel writes only what it returns; untouched pages stay unmapped.
    storage_ = std::make_unique_for_overwrite<std::uint64_t[]>(words);
    storage_bytes_ = words * 8;
}

bool TreeSearch::fetch() {
    for (;;) {
        btrfs_ioctl_search_args_v2 args{};
        args.key = to_kernel(key_, items_per_call_);
        args.buf_size = storage_bytes_ - kArgsBytes;
        std::memcpy(storage_.get(), &args, kArgsBytes);
        ++stats_.ioctl_calls;
        if (::ioctl(fd_, BTRFS_IOC_TREE_SEARCH_V2, storage_.get()) == 0) break;
        const int err = errno;
        if (err == EOVERFLOW) {
            // One item is larger than the whole buffer: the kernel says how much it needs.
            std::memcpy(&args, storage_.get(), kArgsBytes);
            if (args.buf_size > storage_bytes_ - kArgsBytes && args.buf_size <= kMaxBufferBytes) {
                allocate(static_cast<std::size_t>(args.buf_size));
                continue;
            }
        }
        throw_ioctl_error(err, "BTRFS_IOC_TREE_SEARCH_V2", "tree search", path_);
    }
    btrfs_ioctl_search_args_v2 out{};
    std::memcpy(&out, storage_.get(), kArgsBytes);
    if (out.key.nr_items == 0) return false;
    stats_.items += out.key.nr_items;
    const auto* bytes = reinterpret_cast<const std::byte*>(storage_.get()) + kArgsBytes;
    reader_ = SearchBufferReader({bytes, storage_bytes_ - kArgsBytes}, out.key.nr_items);
    return true;
}

std::optional<SearchItem> TreeSearch::next() {
    for (;;) {
        if (auto item = reader_.next()) {
            last_ = item->header;
            return item;
        }
        if (exhausted_) return std::nullopt;
        if (last_) {
            // Continue after the last item returned; the previous buffer is consumed.
            auto following = next_search_key(key_, *last_);
            if (!following) {
                exhausted_ = true;
                return std::nullopt;
            }
            key_ = *following;
            last_.reset();
        }
        if (!fetch()) {
            exhausted_ = true;
            return std::nullopt;
        }
    }
}

}  // namespace rdd::btrfs
