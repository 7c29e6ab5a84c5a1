#include "reflinkdedup/lock/freezer.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <stdexcept>

#include "file_flags.hpp"
#include "reflinkdedup/fs/regular_file.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::lock {

namespace {

constexpr std::uint32_t kImmutable = FS_IMMUTABLE_FL;

std::string writers_reason(const std::vector<Writer>& writers) {
    std::string s = "in write use: ";
    for (std::size_t i = 0; i < writers.size(); ++i) s += (i ? "; " : "") + describe(writers[i]);
    return s;
}

}  // namespace

// ---- ThawGuard

ThawGuard::ThawGuard(ThawGuard&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), thawed_(std::move(other.thawed_)) {}

ThawGuard& ThawGuard::operator=(ThawGuard&& other) noexcept {
    if (this != &other) {
        refreeze();
        owner_ = std::exchange(other.owner_, nullptr);
        thawed_ = std::move(other.thawed_);
    }
    return *this;
}

void ThawGuard::refreeze() noexcept {
    if (owner_ == nullptr) return;
    for (const std::size_t i : thawed_) owner_->refreeze(i);
    owner_ = nullptr;
    thawed_.clear();
}

// ---- Freezer

FreezeReport Freezer::freeze(std::span<const LockTarget> files) {
    if (used_) throw std::logic_error("Freezer::freeze: one job per Freezer");
    used_ = true;
    items_.resize(files.size());
    FreezeReport report;
    report.files.resize(files.size());

    std::map<dev_t, FilesystemInfo> filesystems;  // probed once per st_dev
    std::map<FileKey, std::size_t> seen;
    std::vector<FreezeEntry> to_record;
    std::vector<std::size_t> to_freeze;
    for (std::size_t i = 0; i < files.size(); ++i) {
        Item& it = items_[i];
        FreezeOutcome& out = report.files[i];
        it.path = files[i].path;
        try {
            it.fd = UniqueFd(::fcntl(files[i].fd, F_DUPFD_CLOEXEC, 0));
            if (!it.fd) throw_errno("dup", it.path);
            struct stat st {};
            if (::fstat(it.fd.get(), &st) != 0) throw_errno("stat", it.path);
            it.key = file_key(st);
            // A second name of one inode would read our own flag as "was immutable".
            if (const auto [pos, fresh] = seen.emplace(it.key, i); !fresh) {
                out.reason = "same file as " + items_[pos->second].path;
                continue;
            }
            const std::uint32_t flags = inode_flags(it.fd.get(), it.path);
            if ((flags & kImmutable) != 0) {
                it.state = FreezeState::SourceOnly;
                continue;
            }
            auto fs = filesystems.find(st.st_dev);
            if (fs == filesystems.end()) {
                fs = filesystems.emplace(st.st_dev, probe_filesystem(it.fd.get(), it.path)).first;
            }
            it.entry.filesystem = detail::filesystem_key(fs->second);
            it.entry.identity = file_identity(it.fd.get(), fs->second.type, it.path);
            it.entry.original_flags = flags;
            it.entry.path = detail::absolute_path_of(it.fd.get(), it.path);
            to_record.push_back(it.entry);
            to_freeze.push_back(i);
        } catch (const SysError& e) {
            out.error = e.err();
            out.reason = e.what();
        }
    }

    journal_.record(to_record);  // durable before any flag moves

    std::vector<std::size_t> undo;  // journaled but must not stay frozen
    for (const std::size_t i : to_freeze) {
        Item& it = items_[i];
        try {
            detail::set_inode_flags(it.fd.get(), it.entry.original_flags | kImmutable, it.path);
            if ((inode_flags(it.fd.get(), it.path) & kImmutable) == 0) {
                throw SysError(EOPNOTSUPP, "set immutable flag (did not stick)", it.path);
            }
            it.state = FreezeState::Frozen;
        } catch (const SysError& e) {
            report.files[i].error = e.err();
            report.files[i].reason = e.what();
            undo.push_back(i);
        }
    }

    // Only now: a writer that opened before the flag was set is not stopped by it.
    std::vector<FileKey> keys;
    for (const Item& it : items_) {
        if (it.state == FreezeState::Frozen || it.state == FreezeState::SourceOnly) keys.push_back(it.key);
    }
    WriterScanResult scan;
    try {
        scan = scan_writers(keys);
    } catch (...) {
        for (std::size_t i = 0; i < items_.size(); ++i)
            if (items_[i].state == FreezeState::Frozen) undo.push_back(i);
        (void)restore(undo);
        for (const std::size_t i : undo) items_[i].state = FreezeState::Failed;
        throw;
    }
    report.unscanned = scan.inaccessible;
    for (std::size_t i = 0; i < items_.size(); ++i) {
        Item& it = items_[i];
        const auto w = scan.writers.find(it.key);
        if (w == scan.writers.end()) continue;
        if (it.state != FreezeState::Frozen && it.state != FreezeState::SourceOnly) continue;
        if (it.state == FreezeState::Frozen) undo.push_back(i);
        it.state = FreezeState::Busy;
        report.files[i].writers = w->second;
        report.files[i].reason = writers_reason(w->second);
    }
    for (const std::size_t i : restore(undo)) {
        report.files[i].reason += "; original flags not restored yet (left to recover)";
    }
    for (std::size_t i = 0; i < items_.size(); ++i) report.files[i].state = items_[i].state;
    return report;
}

ThawGuard Freezer::thaw(std::span<const std::size_t> indices) {
    std::vector<std::size_t> wanted(indices.begin(), indices.end());
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    for (const std::size_t i : wanted) {
        const Item& it = items_.at(i);
        if (it.state != FreezeState::Frozen) {
            throw std::logic_error("ThawGuard: " + it.path + " is not frozen by us" +
                                   (it.state == FreezeState::SourceOnly ? " (it may only be a source)" : ""));
        }
        if (it.thawed) throw std::logic_error("ThawGuard: " + it.path + " is already thawed");
    }
    ThawGuard guard(*this, {});
    for (const std::size_t i : wanted) {
        Item& it = items_[i];
        detail::set_inode_flags(it.fd.get(), it.entry.original_flags, it.path);  // throws: guard undoes
        it.thawed = true;
        guard.thawed_.push_back(i);
    }
    return guard;
}

void Freezer::refreeze(std::size_t index) noexcept {
    Item& it = items_[index];
    if (it.state != FreezeState::Frozen || !it.thawed) return;  // released meanwhile
    it.thawed = false;
    try {
        detail::set_inode_flags(it.fd.get(), it.entry.original_flags | kImmutable, it.path);
        it.exposed = false;
    } catch (const SysError&) {
        it.exposed = true;  // the flag is off (as the journal's entry would leave it): unprotected
    }
}

bool Freezer::still_valid(std::size_t index) const noexcept {
    if (index >= items_.size()) return false;
    const Item& it = items_[index];
    return (it.state == FreezeState::Frozen && !it.exposed) || it.state == FreezeState::SourceOnly;
}

void Freezer::release(std::size_t index) {
    Item& it = items_.at(index);
    if (it.state != FreezeState::Frozen) return;  // nothing of ours on it
    it.thawed = false;                             // a live guard must not freeze it again
    if (inode_flags(it.fd.get(), it.path) != it.entry.original_flags) {
        detail::set_inode_flags(it.fd.get(), it.entry.original_flags, it.path);
    }
    if (::fsync(it.fd.get()) != 0) throw_errno("fsync", it.path);  // durable before we forget
    journal_.forget(std::span(&it.entry, 1));
    it.state = FreezeState::Released;
}

void Freezer::release_all() noexcept {
    std::vector<std::size_t> frozen;
    for (std::size_t i = 0; i < items_.size(); ++i)
        if (items_[i].state == FreezeState::Frozen) frozen.push_back(i);
    const auto failed = restore(frozen);
    const std::set<std::size_t> failed_set(failed.begin(), failed.end());
    for (const std::size_t i : frozen)
        if (!failed_set.contains(i)) items_[i].state = FreezeState::Released;
}

std::vector<std::size_t> Freezer::restore(const std::vector<std::size_t>& indices) noexcept {
    std::vector<std::size_t> failed;
    std::vector<FreezeEntry> done;
    std::map<dev_t, int> sync_fds;  // one syncfs per filesystem makes the whole batch durable
    for (const std::size_t i : indices) {
        Item& it = items_[i];
        it.thawed = false;
        try {
            if (inode_flags(it.fd.get(), it.path) != it.entry.original_flags) {
                detail::set_inode_flags(it.fd.get(), it.entry.original_flags, it.path);
            }
            done.push_back(it.entry);
            sync_fds.emplace(it.key.dev, it.fd.get());
        } catch (const SysError&) {
            failed.push_back(i);
        }
    }
    bool synced = true;
    for (const auto& [dev, fd] : sync_fds) synced = ::syncfs(fd) == 0 && synced;
    // Not durable, or the journal cannot be rewritten: the entries stay, and recover() finds
    // the flags already right.
    if (synced && !done.empty()) {
        try {
            journal_.forget(done);
        } catch (...) {
        }
    }
    return failed;
}

}  // namespace rdd::lock
