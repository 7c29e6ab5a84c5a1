#include "dedup_files_output.hpp"

#include <nlohmann/json.hpp>
#include <ostream>

#include "format.hpp"
#include "json_output.hpp"

namespace rdd::cli {

void print_text(std::ostream& out, const DedupFilesReport& r) {
    const char* verb = r.dry_run ? "would share" : "shared";
    out << (r.dry_run ? "dry run: " : "") << r.files << " files on " << r.fs_type;
    if (!r.skipped.empty()) out << ", " << r.skipped.size() << " skipped";
    out << "\n"
        << "  compared        " << iec_bytes(r.bytes_compared) << "\n"
        << "  already shared  " << iec_bytes(r.bytes_already_shared) << "\n";
    if (r.dry_run) {
        out << "  " << verb << "     " << iec_bytes(r.bytes_dedupable) << " in " << r.dedupe_calls
            << " dedupe calls\n";
    } else {
        out << "  " << verb << "          " << iec_bytes(r.bytes_shared) << " in " << r.dedupe_calls
            << " dedupe calls (verified with FIEMAP)\n"
            << "  freed           " << iec_bytes(r.bytes_freed) << " (free space after sync)\n";
    }
    if (r.bytes_changed > 0) {
        out << "  changed meanwhile " << iec_bytes(r.bytes_changed) << " (left as they were)\n";
    }
    if (r.freezes_recovered > 0) {
        out << "  recovered       immutable flags of " << r.freezes_recovered << " files from a crashed run\n";
    }
    if (r.interrupted) out << "  interrupted: stopped after the current call\n";
    if (!r.skipped.empty()) {
        out << "  skipped " << r.skipped.size() << (r.skipped.size() == 1 ? " file:\n" : " files:\n");
        for (const SkippedFile& s : r.skipped) out << "    " << printable(s.path) << ": " << printable(s.reason) << "\n";
    }
}

void print_json(std::ostream& out, const DedupFilesReport& r) {
    nlohmann::json j;
    j["command"] = "dedup-files";
    j["dry_run"] = r.dry_run;
    j["filesystem"] = r.fs_type;
    j["files"] = r.files;
    j["bytes_compared"] = r.bytes_compared;
    j["bytes_already_shared"] = r.bytes_already_shared;
    j["bytes_dedupable"] = r.bytes_dedupable;
    j["bytes_shared"] = r.bytes_shared;
    j["bytes_changed"] = r.bytes_changed;
    j["bytes_freed"] = r.bytes_freed;
    j["dedupe_calls"] = r.dedupe_calls;
    j["lock"] = r.lock_method;
    j["freezes_recovered"] = r.freezes_recovered;
    j["interrupted"] = r.interrupted;
    j["skipped"] = skipped_json(r.skipped);
    print_json_line(out, j);
}

}  // namespace rdd::cli
