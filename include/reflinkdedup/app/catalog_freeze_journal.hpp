#pragma once
// The freeze journal of --lock=immutable kept in the catalog (dedup-vol): the locker's
// FreezeJournal interface over catalog::FreezeJournalRows (its own connection; record() is
// fsynced before it returns). dedup-files, which has no catalog, keeps its FileFreezeJournal
// in --state-dir; `reflinkdedup recover` repairs both.
#include <mutex>
#include <span>
#include <vector>

#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/freeze_journal_rows.hpp"
#include "reflinkdedup/lock/freeze_journal.hpp"
#include "reflinkdedup/lock/recover.hpp"

namespace rdd {

class CatalogFreezeJournal final : public lock::FreezeJournal {
public:
    // `writer` must hold the writer lock and outlive the journal.
    explicit CatalogFreezeJournal(const catalog::Catalog& writer);

    void record(std::span<const lock::FreezeEntry> entries) override;
    void forget(std::span<const lock::FreezeEntry> entries) override;
    [[nodiscard]] std::vector<lock::FreezeEntry> pending() const override;

private:
    mutable std::mutex mutex_;  // one SQLite connection, possibly several locking threads
    catalog::FreezeJournalRows rows_;
};

// Puts back the flags of files that a run which died left frozen, from the journal of the
// catalog just opened for writing (so no live run owns those rows). One SELECT when nothing
// is pending. Returns what lock::recover() did, empty when there was nothing.
[[nodiscard]] std::vector<lock::RecoverItem> repair_dead_freezes(const catalog::Catalog& writer);

}  // namespace rdd
