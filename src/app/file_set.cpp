#include "reflinkdedup/app/file_set.hpp"

#include <linux/fs.h>

#include <map>
#include <optional>
#include <utility>

#include "reflinkdedup/app/input_error.hpp"
#include "reflinkdedup/fs/fiemap.hpp"

namespace rdd {

std::optional<std::string> sharing_problem(const OpenedFile& f, const FilesystemInfo& fs,
                                           bool as_destination, bool modify_read_only_snapshots) {
    const std::uint32_t flags = inode_flags(f.fd.get(), f.path);
    if (fs.type == FsType::Btrfs && (flags & FS_NOCOW_FL) != 0) {
        return "NOCOW file (chattr +C): btrfs cannot share its extents";
    }
    if (as_destination && (flags & FS_IMMUTABLE_FL) != 0) {
        return "immutable (chattr +i): used only as a source, never modified";
    }
    if (as_destination && !modify_read_only_snapshots && fs.type == FsType::Btrfs &&
        in_read_only_subvolume(f.fd.get(), f.path)) {
        return "in a read-only btrfs snapshot: used only as a source, never modified";
    }
    if (fs.type == FsType::Btrfs && f.st.st_size > 0 && f.st.st_size <= 2 * fs.block_size) {
        // Small btrfs files may live inline in metadata: the kernel says SAME, shares nothing.
        const auto ext = read_fiemap(f.fd.get(), 0, 1, f.path);
        if (!ext.empty() && ext.front().inline_data) {
            return "btrfs inline file (stored in metadata, cannot be shared)";
        }
    }
    return std::nullopt;
}

namespace {

FilesystemInfo probe_source_fs(const OpenedFile& src) {
    FilesystemInfo fs = probe_filesystem(src.fd.get(), src.path);
    if (!fs.can_share) throw InputError(cannot_share_message(src.path, fs));
    if (fs.read_only) throw InputError(src.path + ": the filesystem is mounted read-only");
    return fs;
}

void require_same_fs(const OpenedFile& f, const FileSet& set) {
    const FilesystemInfo fs = probe_filesystem(f.fd.get(), f.path);
    if (!fs.can_share) throw InputError(cannot_share_message(f.path, fs));
    if (fs.id != set.fs.id) {
        throw InputError(f.path + ": on another filesystem than " + set.source.path +
                         "; extents can only be shared within one filesystem");
    }
}

}  // namespace

FileSet prepare_file_set(const std::vector<std::string>& paths) {
    if (paths.size() < 2) throw InputError("dedup-files needs at least two files: SOURCE DEST...");

    FileSet set;
    set.source = open_regular_file(paths[0]);
    if (set.source.problem) throw InputError(paths[0] + ": " + *set.source.problem);
    set.fs = probe_source_fs(set.source);
    if (auto p = sharing_problem(set.source, set.fs, false)) {
        throw InputError(paths[0] + ": " + *p + "; nothing can be shared from it");
    }

    // (st_dev, st_ino) is unique per btrfs subvolume too (each has its own st_dev).
    std::map<std::pair<dev_t, ino_t>, std::string> seen;
    seen[{set.source.st.st_dev, set.source.st.st_ino}] = set.source.path;
    for (std::size_t i = 1; i < paths.size(); ++i) {
        OpenedFile f = open_regular_file(paths[i]);
        if (f.problem) {
            set.skipped.push_back({paths[i], *f.problem});
            continue;
        }
        require_same_fs(f, set);
        auto [it, fresh] = seen.try_emplace({f.st.st_dev, f.st.st_ino}, f.path);
        if (!fresh) {
            set.skipped.push_back({f.path, "same inode as " + it->second + " (hard link)"});
            continue;
        }
        if (auto p = sharing_problem(f, set.fs, true)) {
            set.skipped.push_back({f.path, *p});
            continue;
        }
        set.destinations.push_back(std::move(f));
    }
    return set;
}

}  // namespace rdd
