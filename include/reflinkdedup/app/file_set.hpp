#pragma once
// Validating the files of a `dedup-files` run before anything is changed: the source must be
// usable and every file must be on its filesystem (else InputError); destinations that cannot
// be shared are set aside with the reason.
#include <optional>
#include <string>
#include <vector>

#include "reflinkdedup/fs/filesystem.hpp"
#include "reflinkdedup/fs/regular_file.hpp"

namespace rdd {

struct SkippedFile {
    std::string path;
    std::string reason;
};

struct FileSet {
    FilesystemInfo fs;
    OpenedFile source;
    std::vector<OpenedFile> destinations;  // open, regular, shareable, distinct inodes
    std::vector<SkippedFile> skipped;
};

// Why the kernel would refuse (or pointlessly accept) sharing this file's extents (NOCOW,
// btrfs inline data; for a destination also immutable or in a read-only snapshot); nullopt if
// it can take part. `modify_read_only_snapshots` (--ro-snapshots=dedupe) lets a file of a
// read-only snapshot be a destination.
[[nodiscard]] std::optional<std::string> sharing_problem(const OpenedFile& f, const FilesystemInfo& fs,
                                                         bool as_destination, bool modify_read_only_snapshots = false);

// paths[0] is the source. Throws InputError when fewer than two paths are given, the source is
// unusable, or a file is on another filesystem (or one that cannot share extents).
[[nodiscard]] FileSet prepare_file_set(const std::vector<std::string>& paths);

}  // namespace rdd
