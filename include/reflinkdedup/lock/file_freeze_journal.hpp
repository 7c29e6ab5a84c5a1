#pragma once
// FreezeJournal in one small text file, STATE_DIR/freeze-journal, replaced atomically
// (write a temporary, fsync, rename, fsync the directory) on every change, mode 0600. An
// exclusive flock on STATE_DIR/freeze-journal.lock keeps two processes from sharing it; a
// killed process drops it, so recovery after a crash is never locked out.
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "reflinkdedup/lock/freeze_journal.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd::lock {

class JournalFormatError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The file format, pure: a header line, then one entry per line, tab-separated:
// filesystem, subvolume, inode, generation, flags (hex), path. Bytes < 0x20, 0x7f and '\\'
// in text fields are written as \xHH. decode throws JournalFormatError on anything else.
[[nodiscard]] std::string encode_freeze_journal(std::span<const FreezeEntry> entries);
[[nodiscard]] std::vector<FreezeEntry> decode_freeze_journal(std::string_view text);

class FileFreezeJournal final : public FreezeJournal {
public:
    // Creates state_dir (0700) if needed, takes the lock (SysError EWOULDBLOCK when another
    // process holds it), loads the pending entries.
    explicit FileFreezeJournal(std::filesystem::path state_dir);

    void record(std::span<const FreezeEntry> entries) override;
    void forget(std::span<const FreezeEntry> entries) override;
    [[nodiscard]] std::vector<FreezeEntry> pending() const override;

    [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }

private:
    void store(const std::vector<FreezeEntry>& entries);  // atomic replace; updates entries_

    std::filesystem::path dir_;
    std::filesystem::path file_;
    UniqueFd lock_;
    mutable std::mutex mutex_;
    std::vector<FreezeEntry> entries_;
};

}  // namespace rdd::lock
