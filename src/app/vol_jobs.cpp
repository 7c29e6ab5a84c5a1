#include "vol_jobs.hpp"

#include <algorithm>
#include <cerrno>
#include <map>

#include "reflinkdedup/btrfs/errors.hpp"
#include "reflinkdedup/btrfs/inode_scan.hpp"
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

class JobBuilder {
public:
    JobBuilder(FileAccess& files, const catalog::Catalog& cat, const JobPlanOptions& opt, const SkipFile& skip,
               JobPlan& plan)
        : files_(files), cat_(cat), opt_(opt), skip_(skip), plan_(plan), block_(cat.block_size()),
          btrfs_(files.filesystem().type == FsType::Btrfs), read_only_(opt.fs_fd, opt.fs_path) {}

    // The runs of one destination file.
    void build(catalog::FileId file, std::span<const SharedRun> runs) {
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
        std::vector<ByteRange> remapped;
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
        if (!job.pieces.empty() || !job.moves.empty()) plan_.jobs.push_back(std::move(job));
    }

private:
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
        for (ExtentRelease& x : plan_extent_release(refs, remapped, zero_ranges(row.id, size), owners, policy)) {
            job.freed_bytes += x.freed_bytes;
            job.held_bytes += x.held_bytes;
            if (x.fate != ExtentFate::FreedByMove) continue;
            job.write_bytes += x.write_bytes;
            job.moves.push_back({x.extent, x.disk_bytes, clip(std::move(x.remainder), size), x.write_bytes,
                                 x.freed_bytes, false});
        }
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
        std::vector<ByteRange> zeros;
        (void)cat_.for_each_zero_run(file, [&](const catalog::ZeroRun& z) {
            zeros.push_back({z.first * block_, z.count * block_});
            return true;
        });
        return clip(normalized(std::move(zeros)), size);
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
    for (std::size_t i = 0; i < runs.size();) {
        std::size_t j = i;
        while (j < runs.size() && runs[j].dst_file == runs[i].dst_file) ++j;
        try {
            builder.build(runs[i].dst_file, runs.subspan(i, j - i));
        } catch (const SysError& e) {  // vanished or unreadable meanwhile: that file only
            skip(runs[i].dst_file, e.what());
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
