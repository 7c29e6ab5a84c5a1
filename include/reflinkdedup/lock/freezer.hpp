#pragma once
// The immutable-flag freeze (bedup's method), made crash-safe: journal first, then set
// FS_IMMUTABLE_FL on every file of the job, THEN look for writers in /proc (the flag only stops
// new opens for writing; fds and shared mappings made before it still write). Files in write
// use are thawed and reported. Destinations are thawed only around their own FIDEDUPERANGE
// (the kernel refuses an immutable destination with EPERM) by a ThawGuard. Every file gets
// exactly its original flags back. Setting and clearing the flag moves ctime (KERNEL-FACTS §2).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reflinkdedup/lock/freeze_journal.hpp"
#include "reflinkdedup/lock/lock_target.hpp"
#include "reflinkdedup/lock/writer_scan.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd::lock {

enum class FreezeState {
    Frozen,      // we set the flag; usable as source and (inside a ThawGuard) destination
    SourceOnly,  // was immutable before we came: left as it is, never a destination
    Busy,        // has writers (see writers); thawed again, skip it
    Failed,      // could not be examined or frozen (error, reason)
    Released,    // original flags are back
};

struct FreezeOutcome {
    FreezeState state = FreezeState::Failed;
    std::vector<Writer> writers;  // Busy
    int error = 0;                // Failed: errno when there was one
    std::string reason;           // Busy/Failed: for the report
};

struct FreezeReport {
    std::vector<FreezeOutcome> files;                // one per target, same order
    std::vector<InaccessibleProcess> unscanned;      // processes the writer scan could not see
};

class Freezer;

// Clears the flag on some frozen files for the duration of one ioctl and sets it again.
// Must not outlive its Freezer.
class [[nodiscard]] ThawGuard {
public:
    ThawGuard() noexcept = default;
    ThawGuard(ThawGuard&& other) noexcept;
    ThawGuard& operator=(ThawGuard&& other) noexcept;
    ThawGuard(const ThawGuard&) = delete;
    ThawGuard& operator=(const ThawGuard&) = delete;
    ~ThawGuard() { refreeze(); }

    // Sets the flag again now (the destructor does it otherwise). A file whose flag cannot be
    // set again is no longer still_valid() in its Freezer.
    void refreeze() noexcept;

private:
    friend class Freezer;
    ThawGuard(Freezer& owner, std::vector<std::size_t> thawed) noexcept
        : owner_(&owner), thawed_(std::move(thawed)) {}

    Freezer* owner_ = nullptr;
    std::vector<std::size_t> thawed_;
};

class Freezer {
public:
    explicit Freezer(FreezeJournal& journal) noexcept : journal_(journal) {}
    ~Freezer() { release_all(); }
    Freezer(const Freezer&) = delete;
    Freezer& operator=(const Freezer&) = delete;

    // Freezes one job (call once). Throws only when the journal cannot be written (then no
    // flag was touched) or /proc cannot be read (then every flag is back).
    [[nodiscard]] FreezeReport freeze(std::span<const LockTarget> files);

    // Thaws the given Frozen files until the guard is gone. std::logic_error for a file that
    // is not Frozen (e.g. SourceOnly) or already thawed; SysError if the flag cannot be
    // cleared (the ones already cleared are set again).
    [[nodiscard]] ThawGuard thaw(std::span<const std::size_t> indices);

    [[nodiscard]] FreezeState state(std::size_t index) const { return items_.at(index).state; }
    // Frozen (and not left thawed by a failed refreeze) or SourceOnly.
    [[nodiscard]] bool still_valid(std::size_t index) const noexcept;

    // Puts back the exact original flags, makes that durable, then forgets the journal entry.
    // Throws SysError; the entry then stays in the journal for recover().
    void release(std::size_t index);
    // The same for every file, errors swallowed (their entries stay in the journal).
    void release_all() noexcept;

private:
    friend class ThawGuard;

    struct Item {
        UniqueFd fd;
        std::string path;
        FileKey key;
        FreezeState state = FreezeState::Failed;
        FreezeEntry entry;     // journaled when state is Frozen
        bool thawed = false;   // inside a ThawGuard
        bool exposed = false;  // a refreeze failed: the flag is off, unprotected
    };

    void refreeze(std::size_t index) noexcept;
    // Original flags back on `indices` (durably) and their entries forgotten; returns the
    // ones that failed. Used for Busy files and by release_all.
    std::vector<std::size_t> restore(const std::vector<std::size_t>& indices) noexcept;

    FreezeJournal& journal_;
    std::vector<Item> items_;
    bool used_ = false;
};

}  // namespace rdd::lock
