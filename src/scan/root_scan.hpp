#pragma once
// One scan root (a btrfs subvolume or a directory tree) brought up to date in the catalog:
// either by walking it (first pass, XFS, --walk) or, on btrfs, by asking the subvolume's tree
// which inodes changed since the generation of the last complete pass.
#include <cstdint>
#include <string>
#include <vector>

#include "catalog_sink.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/write_batch.hpp"
#include "reflinkdedup/fs/filesystem.hpp"
#include "reflinkdedup/hash/hasher.hpp"
#include "reflinkdedup/scan/path_filter.hpp"
#include "reflinkdedup/scan/scan_volumes.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd {

struct WalkedFile;

class RootScan {
public:
    RootScan(catalog::Catalog& cat, const FilesystemInfo& fs, const ScanOptions& opt,
             const ScanProgressCallback& progress, ScanReport& report, hash::Hasher& hasher,
             CatalogSink& sink, catalog::WriteBatch& batch, catalog::Epoch epoch);
    ~RootScan();
    RootScan(const RootScan&) = delete;
    RootScan& operator=(const RootScan&) = delete;

    // Full pass: walks `root`; every file is looked at. Returns false when stopped early.
    // The caller then deletes the rows this pass did not see.
    bool walk(const std::string& root, catalog::VolumeId volume, std::uint64_t subvol);

    // btrfs incremental pass over the subvolume whose root directory is `root_fd`: only inodes
    // whose INODE_ITEM transid is > `generation`. Rows of files that left the scan (deleted,
    // excluded, below --min-size) are deleted here. Returns false when stopped early.
    bool incremental(int root_fd, const std::string& root, catalog::VolumeId volume, std::uint64_t subvol,
                     std::uint64_t generation, VolumeScanResult& result);

    // After a full walk of a btrfs subvolume: every directory's entry count, for the next
    // incremental pass to tell whether a file may have left (one pass over every inode).
    void record_directories(int root_fd, const std::string& root);

private:
    void visit(const WalkedFile& f);
    void visit_changed_inode(int root_fd, const std::string& root, std::uint64_t ino, std::uint64_t generation);
    // Catalogues an open regular file as needed: touched when unchanged, else queued for hashing.
    void examine(UniqueFd fd, const struct stat& st, std::uint32_t generation, const std::string& rel);
    void queue(UniqueFd fd, const struct stat& st, const catalog::FileIdentity& id, const std::string& rel,
               bool nocow, const std::optional<catalog::FileRow>& previous);
    // Deletes the row of an inode that is no longer part of the scan, if it has one.
    void drop(const catalog::FileIdentity& id);
    // Rows of inodes that no longer exist, found by one pass over every INODE_ITEM of the subvolume.
    void reconcile_deletions(int root_fd, const std::string& root, VolumeScanResult& result);
    // The first of a file's names that the excludes (applied to it and each of its directories) allow.
    [[nodiscard]] std::optional<std::string> included_name(const std::vector<std::string>& names) const;
    bool stop();
    void report_progress(bool force);

    catalog::Catalog& cat_;
    const FilesystemInfo& fs_;
    const ScanOptions& opt_;
    const ScanProgressCallback& progress_;
    ScanReport& report_;
    hash::Hasher& hasher_;
    CatalogSink& sink_;
    catalog::WriteBatch& batch_;
    catalog::Epoch epoch_;
    PathFilter filter_;
    catalog::VolumeId volume_ = 0;
    std::uint64_t subvol_ = 0;
    std::uint64_t next_token_ = 1;
    std::vector<catalog::FileId> leaving_;  // rows to delete at the end of an incremental pass
    bool stopped_ = false;
    std::uint64_t bytes_queued_ = 0;
    bool walk_done_ = false;
    std::chrono::steady_clock::time_point last_progress_{};
};

}  // namespace rdd
