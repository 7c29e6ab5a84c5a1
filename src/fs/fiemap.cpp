#include "reflinkdedup/fs/fiemap.hpp"

#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include <cstdlib>
#include <memory>

#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

namespace {

constexpr std::uint32_t kExtentsPerCall = 512;

struct FreeDeleter {
    void operator()(void* p) const noexcept { std::free(p); }
};

Extent to_extent(const fiemap_extent& fe) {
    Extent e;
    e.logical = fe.fe_logical;
    e.physical = fe.fe_physical;
    e.length = fe.fe_length;
    e.last = (fe.fe_flags & FIEMAP_EXTENT_LAST) != 0;
    e.shared = (fe.fe_flags & FIEMAP_EXTENT_SHARED) != 0;
    e.encoded = (fe.fe_flags & (FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_ENCRYPTED)) != 0;
    e.inline_data = (fe.fe_flags & (FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED)) != 0;
    e.unknown = (fe.fe_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC)) != 0;
    e.unwritten = (fe.fe_flags & FIEMAP_EXTENT_UNWRITTEN) != 0;
    return e;
}

}  // namespace

std::vector<Extent> read_fiemap(int fd, std::uint64_t start, std::uint64_t length,
                                const std::string& path) {
    std::vector<Extent> out;
    const std::size_t bytes = sizeof(fiemap) + kExtentsPerCall * sizeof(fiemap_extent);
    std::unique_ptr<fiemap, FreeDeleter> fm(static_cast<fiemap*>(std::calloc(1, bytes)));
    if (!fm) throw std::bad_alloc();

    const std::uint64_t end = length > UINT64_MAX - start ? UINT64_MAX : start + length;
    std::uint64_t pos = start;
    while (pos < end) {
        *fm = fiemap{};
        fm->fm_start = pos;
        fm->fm_length = end - pos;
        fm->fm_extent_count = kExtentsPerCall;
        if (::ioctl(fd, FS_IOC_FIEMAP, fm.get()) != 0) throw_errno("FIEMAP", path);
        if (fm->fm_mapped_extents == 0) break;
        bool last = false;
        for (std::uint32_t i = 0; i < fm->fm_mapped_extents; ++i) {
            out.push_back(to_extent(fm->fm_extents[i]));
            last = out.back().last;
        }
        const Extent& tail = out.back();
        if (last || tail.end() <= pos) break;
        pos = tail.end();
    }
    return out;
}

}  // namespace rdd
