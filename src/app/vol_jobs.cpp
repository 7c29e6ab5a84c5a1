#include "vol_jobs.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <map>
#include <set>

#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/inode_scan.hpp"
#include "reflinkdedup/btrfs/paths.hpp"
#include "reflinkdedup/clone/extent_owners.hpp"
#include "reflinkdedup/fs/fiemap.hpp"
#include "reflinkdedup/plan/block_sharing.hpp"
#include "reflinkdedup/plan/dedupe_length.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

namespace {

std::vector<ByteRange> clip(std::vector<ByteRange> ranges, std::uint64_t size) {
    std::vector<ByteRange> out;
    for (ByteRange r : ranges) {
        if (r.offset >= size) continue;
        r.length = std::min(r.end(), size) - r.offset;
        out.push_back(r);
    }
    return out;
}

std::vector<ByteRange> catalog_zeros(const catalog::Catalog& cat, catalog::FileId file) {
    std::vector<ByteRange> zeros;
    (void)cat.for_each_zero_run(file, [&](const catalog::ZeroRun& z) {
        zeros.push_back({z.first * cat.block_size(), z.count * cat.block_size()});
        return true;
    });
    return normalized(std::move(zeros));
}

// Every file that may be modified and has all-zero blocks (holes included: FIEMAP tells later).
std::map<catalog::FileId, std::vector<ByteRange>> files_with_zeros(const catalog::Catalog& cat, FileAccess& files) {
    // Files are listed by subvolume; a directory root on btrfs lies in the one holding it.
    std::set<std::uint64_t> subvols;
    for (const catalog::Volume& v : cat.volumes()) {
        std::uint64_t subvol = v.subvol_id;
        if (subvol == 0 && files.filesystem().type == FsType::Btrfs) {
            const UniqueFd dir(::open(v.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!dir) continue;  // gone: its files are skipped when opened anyway
            subvol = btrfs::subvolume_id(dir.get(), v.path);
        }
        subvols.insert(subvol);
    }
    std::map<catalog::FileId, std::vector<ByteRange>> out;
    for (const std::uint64_t subvol : subvols) {
        (void)cat.for_each_file(subvol, [&](const catalog::FileRow& r) {
            if (r.state != catalog::FileState::hashed) return true;
            std::vector<ByteRange> zeros = catalog_zeros(cat, r.id);
            if (!zeros.empty() && files.may_modify(r.id)) out.emplace(r.id, std::move(zeros));
            return true;
        });
    }
    return out;
}

class JobBuilder {
public:
    JobBuilder(FileAccess& files, const catalog::Catalog& cat, const JobPlanOptions& opt, const SkipFile& skip,
               JobPlan& plan)
        : files_(files), cat_(cat), opt_(opt), skip_(skip), plan_(plan), block_(cat.block_size()),
          btrfs_(files.filesystem().type == FsType::Btrfs), read_only_(opt.fs_fd, opt.fs_path) {}

    // The runs of one destination file, and its all-zero ranges (catalog).
    void build(catalog::FileId file, std::span<const SharedRun> runs, std::span<const ByteRange> zeros) {
        files_.trim();
        std::string why;
        OpenedFile* dst = files_.open(file, true, why);
        if (dst == nullptr) return skip_(file, why);
        const auto size = static_cast<std::uint64_t>(dst->st.st_size);
        const std::vector<Extent> dst_extents = read_fiemap(dst->fd.get(), 0, size, dst->path);
        VolJob job;
        job.file = file;
        for (const SharedRun& run : runs) {
            files_.trim(file);  // dst stays open
            OpenedFile* src = files_.open(run.src_file, false, why);
            if (src == nullptr) {
                skip_(run.src_file, why);
                continue;
            }
            add_pieces(run, *src, size, dst_extents, job);
        }
        job.holes = allocated_zeros(zeros, dst_extents, size);
        std::vector<ByteRange> remapped = job.holes;
        for (const ByteRange& h : job.holes) job.hole_bytes += h.length;
        for (const SharePiece& p : job.pieces) {
            job.share_bytes += p.length;
            remapped.push_back({p.dst_offset, p.length});
        }
        remapped = normalized(std::move(remapped));
        // On btrfs also a file with nothing left to share: it was a destination before, and
        // may still hold extents it uses only in part (a move that found no room last time).
        if (btrfs_) {
            predict_btrfs(*dst, *files_.row(file), dst_extents, remapped, job);
        } else {
            job.freed_bytes = blocks_released(dst_extents, remapped, files_.filesystem().block_size);
        }
        if (!job.pieces.empty() || !job.moves.empty() || !job.holes.empty()) plan_.jobs.push_back(std::move(job));
    }

private:
    // The parts of all-zero ranges that take space: written zeros, and preallocated (unwritten)
    // extents, which backups never need (XFS also leaves them behind sparse writes).
    static std::vector<ByteRange> allocated_zeros(std::span<const ByteRange> zeros, std::span<const Extent> extents,
                                                  std::uint64_t size) {
        std::vector<ByteRange> out;
        std::size_t e = 0;
        for (const ByteRange& z : zeros) {
            const std::uint64_t end = std::min(z.end(), size);
            while (e < extents.size() && extents[e].end() <= z.offset) ++e;
            for (std::size_t k = e; k < extents.size() && extents[k].logical < end; ++k) {
                const Extent& x = extents[k];
                if (!x.has_address()) continue;
                const std::uint64_t from = std::max(z.offset, x.logical), to = std::min(end, x.end());
                if (from < to) out.push_back({from, to - from});
            }
        }
        return normalized(std::move(out));
    }

    void add_pieces(const SharedRun& run, OpenedFile& src, std::uint64_t dst_size, std::span<const Extent> dst_extents,
                    VolJob& job) {
        const std::uint64_t src_off = run.src_index * block_, dst_off = run.dst_index * block_;
        const auto len = dedupe_length(
            {src_off, dst_off, run.count * block_, static_cast<std::uint64_t>(src.st.st_size), dst_size}, block_);
        if (!len) return;
        const AlignedRanges r{src_off, dst_off, len->request};
        const auto states = classify_blocks(read_fiemap(src.fd.get(), src_off, r.length, src.path), dst_extents, r, block_);
        for (std::size_t i = 0; i < states.size();) {
            const std::uint64_t at = i * block_;
            if (states[i] != BlockState::Candidate) {
                if (states[i] == BlockState::AlreadyShared) plan_.bytes_already_shared += std::min(block_, r.length - at);
                ++i;
                continue;
            }
            std::size_t j = i;
            while (j < states.size() && states[j] == BlockState::Candidate) ++j;
            const std::uint64_t length = std::min<std::uint64_t>((j - i) * block_, r.length - at);
            job.pieces.push_back({run.src_file, r.src_offset + at, r.dst_offset + at, length});
            i = j;
        }
    }

    // btrfs frees whole extents: decide per extent the file references (plan/extent_release).
    void predict_btrfs(OpenedFile& dst, const catalog::FileRow& row, std::span<const Extent> dst_extents,
                       const std::vector<ByteRange>& remapped, VolJob& job) {
        const auto size = static_cast<std::uint64_t>(dst.st.st_size);
        std::vector<ExtentRef> refs = extent_refs(dst, row, dst_extents);
        // The last item reaches past EOF to a whole block: that part holds no data to move.
        for (ExtentRef& r : refs) r.length = std::min(r.file_offset + r.length, std::max(size, r.file_offset)) - r.file_offset;
        std::erase_if(refs, [](const ExtentRef& r) { return r.length == 0; });
        ReleasePolicy policy = opt_.release;
        policy.block_size = files_.filesystem().block_size;
        if (plan_.extent_refs_unavailable) policy.moves = false;
        // FIEMAP's "shared" per extent: enough where only "someone else" matters (no back
        // reference walk), and all there is without CAP_SYS_ADMIN.
        std::map<std::uint64_t, bool> shared_by_fiemap;
        for (const ExtentRef& ref : refs) {
            const auto it = std::upper_bound(dst_extents.begin(), dst_extents.end(), ref.file_offset,
                                             [](std::uint64_t pos, const Extent& e) { return pos < e.end(); });
            const bool shared = it != dst_extents.end() && it->logical <= ref.file_offset && it->shared;
            shared_by_fiemap[ref.extent] = shared_by_fiemap[ref.extent] || shared;
        }
        const std::vector<std::uint64_t> touched = touched_extents(refs, remapped);
        const OwnersLookup owners = [&](std::uint64_t extent) {
            const bool is_touched = std::binary_search(touched.begin(), touched.end(), extent);
            if (plan_.extent_refs_unavailable || (!is_touched && shared_by_fiemap[extent])) {
                return shared_by_fiemap[extent] ? ExtentOwners::OtherFiles : ExtentOwners::ThisFile;
            }
            return owners_of(dst, row, extent);  // who exactly: read-only snapshots are reported
        };
        std::set<std::uint64_t> released;
        for (ExtentRelease& x : plan_extent_release(refs, remapped, zero_ranges(row.id, size), owners, policy)) {
            job.freed_bytes += x.freed_bytes;
            job.held_bytes += x.held_bytes;
            if (x.fate == ExtentFate::Freed || x.fate == ExtentFate::FreedByMove) released.insert(x.extent);
            if (x.fate != ExtentFate::FreedByMove) continue;
            job.write_bytes += x.write_bytes;
            std::vector<MovePiece> pieces;
            for (MovePiece p : x.pieces) {
                if (p.file_offset >= size) continue;
                p.length = std::min(p.file_offset + p.length, size) - p.file_offset;
                pieces.push_back(p);
            }
            job.moves.push_back({x.extent, x.disk_bytes, clip(std::move(x.remainder), size), std::move(pieces),
                                 x.write_bytes, x.freed_bytes, false});
        }
        // A hole frees nothing in an extent that stays allocated: zeros are left alone there.
        std::vector<ByteRange> in_released;
        for (const ExtentRef& ref : refs) {
            if (released.contains(ref.extent)) in_released.push_back({ref.file_offset, ref.length});
        }
        job.holes = subtract(job.holes, subtract(job.holes, normalized(std::move(in_released))));
        job.hole_bytes = 0;
        for (const ByteRange& h : job.holes) job.hole_bytes += h.length;
    }

    // The file's EXTENT_DATA items; without CAP_SYS_ADMIN, its FIEMAP extents taken as whole
    // extents (no moves then: the real extent sizes are unknown).
    std::vector<ExtentRef> extent_refs(OpenedFile& dst, const catalog::FileRow& row, std::span<const Extent> dst_extents) {
        std::vector<ExtentRef> refs;
        if (!plan_.extent_refs_unavailable) {
            try {
                for (const btrfs::FileExtent& fe : btrfs::read_file_extents(dst.fd.get(), row.identity.ino, dst.path)) {
                    const btrfs::FileExtentItem& it = fe.item;
                    if (!it.has_disk_fields() || it.is_hole()) continue;
                    const bool plain = it.type == static_cast<std::uint8_t>(btrfs::FileExtentType::Regular) &&
                                       it.encryption == 0 && it.other_encoding == 0;
                    refs.push_back({fe.file_offset, it.num_bytes, it.disk_bytenr, it.disk_num_bytes,
                                    it.compression != 0 ? it.ram_bytes : it.disk_num_bytes, plain, it.offset});
                }
                return refs;
            } catch (const btrfs::NeedsRootError&) {
                plan_.extent_refs_unavailable = true;
            }
        }
        const std::uint64_t bs = files_.filesystem().block_size;
        for (const Extent& e : dst_extents) {
            if (!e.has_address()) continue;
            const std::uint64_t disk = (e.length + bs - 1) / bs * bs;
            refs.push_back({e.logical, e.length, e.physical, disk, disk, false});
        }
        return refs;
    }

    ExtentOwners owners_of(OpenedFile& dst, const catalog::FileRow& row, std::uint64_t extent) {
        try {
            const auto refs = extent_references(dst.fd.get(), extent, dst.path);
            return classify_owners(refs, row.identity.subvol, row.identity.ino, read_only_);
        } catch (const SysError& e) {
            if (e.err() == EPERM) plan_.extent_refs_unavailable = true;
            return ExtentOwners::OtherFiles;  // unknown: assume moving would free nothing
        }
    }

    // All-zero blocks the scan recorded: a move leaves them as holes.
    std::vector<ByteRange> zero_ranges(catalog::FileId file, std::uint64_t size) const {
        if (!opt_.holes) return {};  // --keep-zeros: a move copies them like any data
        return clip(catalog_zeros(cat_, file), size);
    }

    FileAccess& files_;
    const catalog::Catalog& cat_;
    const JobPlanOptions& opt_;
    const SkipFile& skip_;
    JobPlan& plan_;
    std::uint64_t block_;
    bool btrfs_;
    ReadOnlyRoots read_only_;
};

}  // namespace

JobPlan build_jobs(std::span<const SharedRun> runs, FileAccess& files, const catalog::Catalog& cat,
                   const JobPlanOptions& options, const SkipFile& skip) {
    JobPlan plan;
    JobBuilder builder(files, cat, options, skip, plan);
    const auto zero_files = options.holes ? files_with_zeros(cat, files) : std::map<catalog::FileId, std::vector<ByteRange>>{};
    // Destination files in id order: those with runs, those with zeros, or both.
    auto z = zero_files.begin();
    for (std::size_t i = 0; i < runs.size() || z != zero_files.end();) {
        const catalog::FileId file = std::min(i < runs.size() ? runs[i].dst_file : INT64_MAX,
                                              z != zero_files.end() ? z->first : INT64_MAX);
        std::size_t j = i;
        while (j < runs.size() && runs[j].dst_file == file) ++j;
        std::span<const ByteRange> zeros;
        if (z != zero_files.end() && z->first == file) zeros = (z++)->second;
        try {
            builder.build(file, runs.subspan(i, j - i), zeros);
        } catch (const SysError& e) {  // vanished or unreadable meanwhile: that file only
            skip(file, e.what());
        }
        i = j;
    }
    return plan;
}

VolJob* find_job(JobPlan& plan, catalog::FileId file) {
    const auto it = std::lower_bound(plan.jobs.begin(), plan.jobs.end(), file,
                                     [](const VolJob& j, catalog::FileId f) { return j.file < f; });
    return it != plan.jobs.end() && it->file == file ? &*it : nullptr;
}

}  // namespace rdd
