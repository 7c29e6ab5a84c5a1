#pragma once
// dedup-vol's view of catalogued files: their rows, whether they may be modified (read-only
// snapshots are sources only), and the files themselves, opened read-only and checked against
// the catalog (a file that changed since it was hashed takes no part). A few stay open at once.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/fs/filesystem.hpp"
#include "reflinkdedup/fs/regular_file.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd {

class FileAccess {
public:
    // modify_read_only_snapshots: --ro-snapshots=dedupe (their files may be destinations).
    FileAccess(const catalog::Catalog& cat, const FilesystemInfo& fs, bool modify_read_only_snapshots = false);

    [[nodiscard]] const catalog::FileRow* row(catalog::FileId id);
    // Hashed as shareable (not NOCOW, not failed) and not btrfs inline data (stored in metadata:
    // the kernel says SAME and shares nothing): may take part at all.
    [[nodiscard]] bool shareable(catalog::FileId id);
    // Files found to be btrfs inline data so far (they are left out, not skipped).
    [[nodiscard]] std::uint64_t inline_files() const noexcept { return inline_count_; }
    // Shareable and not in a read-only snapshot: may be a destination.
    [[nodiscard]] bool may_modify(catalog::FileId id);
    [[nodiscard]] std::string path_of(const catalog::FileRow& r) const;
    // "path", or "file #id" for a row that is gone.
    [[nodiscard]] std::string path_of(catalog::FileId id);

    // The file as catalogued, opened read-only; nullptr and the reason in `why` when it changed
    // or cannot take part. The pointer stays valid until trim() closes the file.
    [[nodiscard]] OpenedFile* open(catalog::FileId id, bool as_destination, std::string& why);
    // Once more than a few files are open, closes all but `keep` (one still in use).
    void trim(catalog::FileId keep = 0);

    [[nodiscard]] const FilesystemInfo& filesystem() const noexcept { return fs_; }
    // Where to make a nameless scratch file next to `file_path`: its directory, or, when that
    // is gone (a file opened by handle after its directory was renamed), the root of a
    // writable volume of the filesystem.
    [[nodiscard]] std::string scratch_dir(const std::string& file_path) const;

private:
    struct VolumeInfo {
        std::string path;
        bool read_only = false;  // a read-only btrfs snapshot: a source, never a destination
    };

    OpenedFile open_file(catalog::FileId id);
    [[nodiscard]] std::optional<OpenedFile> open_by_handle(const catalog::FileRow& r);

    const catalog::Catalog& cat_;
    const FilesystemInfo& fs_;
    UniqueFd mount_fd_;  // any directory of the filesystem, for open_by_handle_at
    bool modify_read_only_snapshots_ = false;
    std::map<catalog::VolumeId, VolumeInfo> volumes_;
    std::map<catalog::FileId, std::optional<catalog::FileRow>> rows_;
    std::map<catalog::FileId, std::unique_ptr<OpenedFile>> open_;
    std::set<catalog::FileId> checked_;  // found as catalogued earlier in this run
    std::map<catalog::FileId, bool> inline_;  // small btrfs files looked at: inline or not
    std::uint64_t inline_count_ = 0;
};

}  // namespace rdd
