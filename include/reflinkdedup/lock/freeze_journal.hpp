#pragma once
// The write-ahead record of the immutable-flag freeze: every file is recorded (durably) before
// its flag is set and forgotten only after its exact original flags are back, so a crash in
// between can always be repaired by recover(). The SQLite catalog implements this interface
// too; FileFreezeJournal is a small standalone one.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reflinkdedup/fs/file_identity.hpp"

namespace rdd::lock {

struct FreezeEntry {
    std::string filesystem;       // fs UUID (btrfs fsid, XFS uuid), else FilesystemInfo::id
    FileIdentity identity;        // (subvolume, inode, generation): recover() checks it
    std::uint32_t original_flags = 0;  // FS_IOC_GETFLAGS before we touched the file
    std::string path;             // absolute, to find the file again after a crash

    // Entries are keyed by (filesystem, identity); the path is only how to get there.
    [[nodiscard]] bool same_file(const FreezeEntry& other) const noexcept {
        return filesystem == other.filesystem && identity == other.identity;
    }
    friend bool operator==(const FreezeEntry&, const FreezeEntry&) = default;
};

class FreezeJournal {
public:
    virtual ~FreezeJournal() = default;
    // Durable on return; an entry for the same file replaces the older one.
    virtual void record(std::span<const FreezeEntry> entries) = 0;
    // Durable on return; entries not present are ignored.
    virtual void forget(std::span<const FreezeEntry> entries) = 0;
    [[nodiscard]] virtual std::vector<FreezeEntry> pending() const = 0;
};

}  // namespace rdd::lock
