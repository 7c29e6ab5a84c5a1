#include <boost/program_options.hpp>
#include <cerrno>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>

#include "command.hpp"
#include "command_line.hpp"
#include "freeze_repair.hpp"
#include "output.hpp"
#include "reflinkdedup/app/catalog_freeze_journal.hpp"
#include "reflinkdedup/app/exit_codes.hpp"
#include "reflinkdedup/app/input_error.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/errors.hpp"
#include "reflinkdedup/catalog/open_hook.hpp"
#include "reflinkdedup/lock/file_freeze_journal.hpp"
#include "reflinkdedup/lock/recover.hpp"
#include "reflinkdedup/scan/scan_volumes.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "usage_error.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

namespace {

constexpr const char* kHelp = R"(Usage: reflinkdedup recover [OPTIONS] [PATH...]

Put back the attribute flags of files that a run with --lock=immutable froze and could not
thaw (it was killed, or the machine went down). Every such run journals each file's identity
and original flags, durably, before touching it: dedup-vol in the filesystem's catalog,
dedup-files (which has no catalog) in STATE_DIR/freeze-journal. Any command that opens a
catalog for writing does this repair by itself first, and dedup-files repairs its journal;
this command does it on request, for the journal in --state-dir, every catalog (*.sqlite) in
--state-dir, the catalog of each PATH's filesystem and each --db. A file is only touched if it
is still the same inode (number and generation) that was frozen.

Output: one line per journaled file, "OUTCOME<TAB>PATH[<TAB>DETAIL]", OUTCOME one of
restored, already original, missing, replaced, failed. The last three stay in the journal
(and are tried again) unless --forget-unrepaired.

Exit status:
  0  nothing was pending, or every file got its flags back
  1  some entries could not be repaired (listed; they stay in the journal)
  2  usage or input error (e.g. a --db that does not exist)
  3  another reflinkdedup is running and holds a journal (its entries are its own)
  5  an unexpected system error

Examples:
  reflinkdedup recover
  reflinkdedup recover --state-dir /srv/reflinkdedup-state --db /srv/catalogs/backup.sqlite

Options)";

constexpr const char* kDefaultStateDir = "/var/lib/reflinkdedup";

bool repaired(const lock::RecoverItem& r) {
    return r.outcome == lock::RecoverOutcome::Restored || r.outcome == lock::RecoverOutcome::AlreadyOriginal;
}

struct Outcome {
    bool all_done = true;
    bool busy = false;
    std::size_t entries = 0;
};

// Prints the items; with `forget`, drops the unrepaired ones from `journal`.
void settle(const std::vector<lock::RecoverItem>& items, lock::FreezeJournal* journal, bool forget, Outcome& out) {
    std::vector<lock::FreezeEntry> dropped;
    for (const lock::RecoverItem& r : items) {
        ++out.entries;
        std::cout << lock::to_string(r.outcome) << "\t" << r.entry.path;
        if (!r.detail.empty()) std::cout << "\t" << r.detail;
        if (!repaired(r) && forget && journal) {
            std::cout << "\t(forgotten)";
            dropped.push_back(r.entry);
        } else if (!repaired(r)) {
            out.all_done = false;
        }
        std::cout << "\n";
    }
    if (!dropped.empty()) journal->forget(dropped);
}

void recover_file_journal(const std::string& state_dir, bool forget, Outcome& out) {
    std::optional<lock::FileFreezeJournal> journal;
    try {
        journal.emplace(state_dir);
    } catch (const SysError& e) {
        if (e.err() != EWOULDBLOCK) throw;
        log_error(state_dir + ": another reflinkdedup holds the freeze journal");
        out.busy = true;
        return;
    }
    settle(lock::recover(*journal), &*journal, forget, out);
}

void recover_catalog(const std::string& db, bool forget, Outcome& out) {
    // open_writer repairs through the hook: collect what it did instead of the usual notice.
    std::vector<lock::RecoverItem> items;
    const catalog::ScopedWriterOpenHook collect([&](catalog::Catalog& c) { items = repair_dead_freezes(c); });
    try {
        const catalog::Catalog cat = catalog::Catalog::open_writer(db, catalog::OpenOptions{});
        if (forget && !items.empty()) {
            CatalogFreezeJournal journal(cat);
            settle(items, &journal, true, out);
        } else {
            settle(items, nullptr, false, out);
        }
    } catch (const catalog::WriterLockTimeoutError& e) {
        log_error(std::string(e.what()) + " (a run is using this catalog; its journal entries are its own)");
        out.busy = true;
    } catch (const catalog::CatalogError& e) {
        log_error(e.what());
        out.all_done = false;
    }
}

// The catalogs in `dir` (not recursive): where default catalogs live.
std::vector<std::string> catalogs_in(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (e.path().extension() == ".sqlite" && e.is_regular_file(ec)) out.push_back(e.path().string());
    }
    return out;
}

void notify(const std::string& catalog_path, const std::vector<lock::RecoverItem>& items) {
    std::size_t restored = 0, left = 0;
    for (const auto& r : items) {
        if (r.outcome == lock::RecoverOutcome::Restored) ++restored;
        if (!repaired(r)) ++left;
    }
    if (restored > 0) {
        log_warning(catalog_path + ": put back the original flags of " + std::to_string(restored) +
                    " files a run that died had left frozen (--lock=immutable)");
    }
    if (left > 0) {
        log_warning(catalog_path + ": " + std::to_string(left) +
                    " files a run that died had frozen could not be checked or repaired; "
                    "'reflinkdedup recover' lists them");
    }
}

}  // namespace

catalog::WriterOpenHook freeze_repair_hook() {
    return [](catalog::Catalog& cat) { notify(cat.path(), repair_dead_freezes(cat)); };
}

int run_recover(const std::vector<std::string>& args) {
    po::options_description opts(kHelp);
    std::string state_dir = kDefaultStateDir;
    std::vector<std::string> dbs;
    bool forget = false;
    opts.add_options()
        ("help,h", "show this help")
        ("state-dir", po::value(&state_dir), "the dedup-files journal and default catalogs (default /var/lib/reflinkdedup)")
        ("db", po::value(&dbs), "a catalog file whose journal to repair (repeatable)")
        ("forget-unrepaired", po::bool_switch(&forget),
         "after listing them, drop the entries that cannot be repaired (a file deleted, replaced, "
         "or gone for good): their flags are then never looked at again");
    const auto operands = parse_command_line("recover", args, opts);
    if (!operands) return to_int(ExitCode::Done);

    std::set<std::string> catalogs;
    for (const std::string& db : dbs) {
        if (!std::filesystem::exists(db)) throw InputError(db + ": no catalog here");
        catalogs.insert(std::filesystem::absolute(db).lexically_normal().string());
    }
    for (const std::string& path : *operands) {
        try {
            const std::string db = default_catalog_for(path);
            if (std::filesystem::exists(db)) catalogs.insert(db);
        } catch (const std::invalid_argument& e) {
            throw InputError(e.what());
        }
    }
    for (const std::string& db : catalogs_in(state_dir)) {
        catalogs.insert(std::filesystem::absolute(db).lexically_normal().string());
    }

    Outcome out;
    recover_file_journal(state_dir, forget, out);
    for (const std::string& db : catalogs) recover_catalog(db, forget, out);
    if (out.entries == 0 && !out.busy) std::cout << "nothing to recover\n";
    if (out.busy) return to_int(ExitCode::CatalogBusy);
    return to_int(out.all_done ? ExitCode::Done : ExitCode::Partial);
}

}  // namespace rdd::cli
