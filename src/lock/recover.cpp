#include "reflinkdedup/lock/recover.hpp"

#include <unistd.h>

#include "file_flags.hpp"
#include "reflinkdedup/fs/filesystem.hpp"
#include "reflinkdedup/fs/regular_file.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::lock {

namespace {

// A "dev:MAJ:MIN" key (no UUID was available) changes with every mount: not comparable.
bool comparable_filesystem_key(const std::string& key) { return key.rfind("dev:", 0) != 0; }

RecoverItem recover_one(const FreezeEntry& entry) {
    RecoverItem item{entry, RecoverOutcome::Failed, {}};
    OpenedFile f = open_regular_file(entry.path);
    if (f.problem) {
        item.outcome = RecoverOutcome::Missing;
        item.detail = *f.problem;
        return item;
    }
    const FilesystemInfo fs = probe_filesystem(f.fd.get(), entry.path);
    const std::string key = detail::filesystem_key(fs);
    if (comparable_filesystem_key(entry.filesystem) && key != entry.filesystem) {
        item.outcome = RecoverOutcome::Replaced;
        item.detail = "now on another filesystem (" + key + ")";
        return item;
    }
    if (file_identity(f.fd.get(), fs.type, entry.path) != entry.identity) {
        item.outcome = RecoverOutcome::Replaced;
        item.detail = "another file (inode or generation differs); left untouched";
        return item;
    }
    if (inode_flags(f.fd.get(), entry.path) == entry.original_flags) {
        item.outcome = RecoverOutcome::AlreadyOriginal;
        return item;
    }
    detail::set_inode_flags(f.fd.get(), entry.original_flags, entry.path);
    if (::fsync(f.fd.get()) != 0) throw_errno("fsync", entry.path);  // durable before we forget
    item.outcome = RecoverOutcome::Restored;
    return item;
}

}  // namespace

std::string_view to_string(RecoverOutcome outcome) noexcept {
    switch (outcome) {
        case RecoverOutcome::Restored: return "restored";
        case RecoverOutcome::AlreadyOriginal: return "already original";
        case RecoverOutcome::Missing: return "missing";
        case RecoverOutcome::Replaced: return "replaced";
        case RecoverOutcome::Failed: return "failed";
    }
    return "?";
}

std::vector<RecoverItem> recover(FreezeJournal& journal) {
    std::vector<RecoverItem> items;
    std::vector<FreezeEntry> resolved;
    for (const FreezeEntry& entry : journal.pending()) {
        try {
            items.push_back(recover_one(entry));
        } catch (const std::exception& e) {
            items.push_back({entry, RecoverOutcome::Failed, e.what()});
        }
        const auto outcome = items.back().outcome;
        if (outcome == RecoverOutcome::Restored || outcome == RecoverOutcome::AlreadyOriginal) {
            resolved.push_back(entry);
        }
    }
    if (!resolved.empty()) journal.forget(resolved);
    return items;
}

}  // namespace rdd::lock
