#include "file_reuse.hpp"

#include <sys/stat.h>

#include <map>
#include <string>

namespace rdd {

namespace {

std::int64_t ns(const timespec& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

}  // namespace

// Whether every catalogued block of a file still lies where it lay when it was hashed: data
// blocks at the same physical address, zero blocks still holes. Copy-on-write never rewrites a
// block where it is, so an unchanged layout means unchanged data even when the ctime moved
// (rename, chmod, xattrs). Any doubt answers false: the file is read again.
bool layout_unchanged(const catalog::Catalog& cat, catalog::FileId id, const std::vector<Extent>& extents,
                      std::uint64_t size, std::uint32_t block_size) {
    BlockAddresses addresses(extents, size, block_size);
    const auto holes = hole_blocks(extents, size, block_size);
    std::size_t h = 0;
    auto in_hole = [&](std::uint64_t i) {
        while (h < holes.size() && holes[h].first + holes[h].count <= i) ++h;
        return h < holes.size() && holes[h].first <= i;
    };
    bool same = true;
    std::uint64_t next = 0;
    (void)cat.for_each_block(id, [&](const catalog::Block& b) {
        same = b.index == next++ &&
               (b.zero ? in_hole(b.index) : b.physical != 0 && addresses.physical(b.index) == b.physical);
        return same;
    });
    return same && next == (size + block_size - 1) / block_size;
}

// Blocks of a changed file that btrfs cannot have rewritten: a full block that lies, whole, at
// the same physical address as when it was hashed (copy-on-write never writes over data in
// place; NOCOW files are not scanned). Their digests are kept and the blocks are not read.
// Only on btrfs: XFS overwrites unshared blocks in place.
std::vector<KnownBlock> reusable_blocks(const catalog::Catalog& cat, const catalog::FileRow& old,
                                        const std::vector<Extent>& extents, std::uint64_t size,
                                        std::uint32_t block_size) {
    std::vector<KnownBlock> known;
    BlockAddresses addresses(extents, size, block_size);
    const std::uint64_t full_then = old.size / block_size, full_now = size / block_size;
    (void)cat.for_each_block(old.id, [&](const catalog::Block& b) {
        if (b.index >= full_then || b.index >= full_now) return false;  // partial blocks differ
        if (!b.zero && b.physical != 0 && addresses.physical(b.index) == b.physical) {
            known.push_back({b.index, hash::Digest128{b.digest.hi, b.digest.lo}, b.physical});
        }
        return true;
    });
    return known;
}

// Whether a catalogued file is, on disk, still the version whose blocks were hashed: same inode,
// size, mtime and ctime at its recorded path. Its digests then describe its disk bytes, and
// blocks another file shares with it hold those bytes (btrfs never writes data in place; XFS
// copies a shared block before writing it).
bool unchanged_since_hashed(const catalog::Catalog& cat, const catalog::FileRow& row) {
    const auto volume = cat.volume(row.volume);
    if (!volume) return false;
    struct stat st {};
    const std::string path = volume->path + "/" + row.path;
    return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == row.identity.ino &&
           static_cast<std::uint64_t>(st.st_size) == row.size && ns(st.st_mtim) == row.mtime_ns &&
           ns(st.st_ctim) == row.ctime_ns;
}

// Full blocks in extents the filesystem says are shared, whose catalogued twin (the same disk
// bytes, recorded for another file that has not changed since) already has a digest: a reflink
// copy or a snapshot of a catalogued file is not read. Blocks in `already` are left out.
std::vector<KnownBlock> blocks_shared_with_catalogued(const catalog::Catalog& cat, const std::vector<Extent>& extents,
                                                      std::uint64_t size, std::uint32_t block_size,
                                                      const std::vector<KnownBlock>& already) {
    std::vector<KnownBlock> found;
    std::map<catalog::FileId, bool> fresh;  // twin file -> unchanged since hashed (asked once)
    const std::uint64_t full = size / block_size;
    std::size_t a = 0;
    for (const Extent& e : extents) {
        if (!e.shared || !e.has_address() || e.encoded || e.unwritten) continue;
        for (std::uint64_t i = (e.logical + block_size - 1) / block_size;
             i < full && (i + 1) * block_size <= e.end(); ++i) {
            while (a < already.size() && already[a].index < i) ++a;
            if (a < already.size() && already[a].index == i) continue;
            const std::uint64_t phys = e.physical + (i * block_size - e.logical);
            const auto twin = cat.block_at_physical(phys);
            if (!twin) continue;
            auto [it, added] = fresh.try_emplace(twin->first, false);
            if (added) {
                const auto row = cat.file(twin->first);
                it->second = row && unchanged_since_hashed(cat, *row);
            }
            if (!it->second) continue;
            const catalog::Digest& d = twin->second.digest;
            found.push_back({i, hash::Digest128{d.hi, d.lo}, phys});
        }
    }
    return found;
}

}  // namespace rdd
