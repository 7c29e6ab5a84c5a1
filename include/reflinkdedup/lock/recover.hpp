#pragma once
// Repairs what a crash during an immutable-flag freeze left behind: for every pending journal
// entry, open the path, check it is still the same file (filesystem, subvolume, inode,
// generation) and put its recorded flags back. Idempotent: entries are forgotten only once
// their file is known to carry its original flags; the others stay pending and are reported
// again next time.
#include <string>
#include <vector>

#include "reflinkdedup/lock/freeze_journal.hpp"

namespace rdd::lock {

enum class RecoverOutcome {
    Restored,         // flags set back to the recorded ones; entry forgotten
    AlreadyOriginal,  // the flags were right already (crash after the restore); entry forgotten
    Missing,          // nothing (usable) at the path: deleted, moved, or its fs not mounted; kept
    Replaced,         // another file at the path (identity differs): not touched; kept
    Failed,           // an error while checking or restoring (detail); kept
};

[[nodiscard]] std::string_view to_string(RecoverOutcome outcome) noexcept;

struct RecoverItem {
    FreezeEntry entry;
    RecoverOutcome outcome = RecoverOutcome::Failed;
    std::string detail;  // why Missing/Replaced/Failed
};

// Throws only when the journal itself cannot be read or rewritten.
[[nodiscard]] std::vector<RecoverItem> recover(FreezeJournal& journal);

}  // namespace rdd::lock
