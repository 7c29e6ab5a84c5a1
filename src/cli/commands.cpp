#include <algorithm>
#include <array>

#include "command.hpp"

namespace rdd::cli {

namespace {

constexpr std::array kCommands{
    Command{"scan-vol", "catalog the files under PATH (what changed since the last scan)", run_scan_vol},
    Command{"dedup-vol", "scan PATH, then share every duplicate block run the catalog knows", run_dedup_vol},
    Command{"dedup-files", "share identical data among the given files (the first is the source)",
            run_dedup_files},
    Command{"report", "what a catalog knows: files, duplicate and shared bytes, busy files, per volume",
            run_report},
    Command{"show-vols", "list the volumes a catalog knows, with their state and size", run_show_vols},
    Command{"reset", "forget volumes (or --all), so the next scan reads them in full", run_reset},
    Command{"recover", "put back flags a killed --lock=immutable run left behind", run_recover},
    Command{"find-new", "list what changed in a btrfs subvolume since a generation", run_find_new},
};

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

}  // namespace

std::span<const Command> commands() { return kCommands; }

std::string suggest_command(std::string_view typed) {
    std::string best;
    std::size_t best_distance = 3;  // further than 2 edits is not a typo
    for (const Command& c : kCommands) {
        const std::size_t d = edit_distance(typed, c.name);
        if (d < best_distance) {
            best_distance = d;
            best = c.name;
        }
    }
    return best;
}

}  // namespace rdd::cli
