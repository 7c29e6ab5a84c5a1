#include "reflinkdedup/app/catalog_freeze_journal.hpp"

#include <unistd.h>

#include <ctime>

namespace rdd {

namespace {

catalog::FreezeRow to_row(const lock::FreezeEntry& e, std::int64_t pid, std::int64_t now) {
    return {e.filesystem, {e.identity.subvolume, e.identity.inode, e.identity.generation}, e.original_flags, e.path,
            pid, now};
}

lock::FreezeEntry to_entry(const catalog::FreezeRow& r) {
    return {r.filesystem, {r.identity.subvol, r.identity.ino, r.identity.generation}, r.original_flags, r.path};
}

std::vector<catalog::FreezeRow> to_rows(std::span<const lock::FreezeEntry> entries) {
    const std::int64_t pid = ::getpid();
    const std::int64_t now = std::time(nullptr);
    std::vector<catalog::FreezeRow> rows;
    rows.reserve(entries.size());
    for (const auto& e : entries) rows.push_back(to_row(e, pid, now));
    return rows;
}

}  // namespace

CatalogFreezeJournal::CatalogFreezeJournal(const catalog::Catalog& writer) : rows_(writer) {}

void CatalogFreezeJournal::record(std::span<const lock::FreezeEntry> entries) {
    const std::lock_guard lock(mutex_);
    rows_.record(to_rows(entries));
}

void CatalogFreezeJournal::forget(std::span<const lock::FreezeEntry> entries) {
    const std::lock_guard lock(mutex_);
    rows_.forget(to_rows(entries));
}

std::vector<lock::FreezeEntry> CatalogFreezeJournal::pending() const {
    const std::lock_guard lock(mutex_);
    std::vector<lock::FreezeEntry> out;
    for (const auto& r : rows_.pending()) out.push_back(to_entry(r));
    return out;
}

std::vector<lock::RecoverItem> repair_dead_freezes(const catalog::Catalog& writer) {
    if (catalog::pending_freezes(writer).empty()) return {};  // the common case: no second connection
    CatalogFreezeJournal journal(writer);
    return lock::recover(journal);
}

}  // namespace rdd
