// /proc/PID/maps text: every entry parsed re-prints (as the kernel would, '\n' in paths as
// \012) to a line that parses to the same entry; ranges are ordered; map_files_name is the
// range in the form the kernel names /proc/PID/map_files links.
#include <cinttypes>
#include <cstdio>
#include <string>

#include "fuzz_check.hpp"
#include "reflinkdedup/lock/proc_parse.hpp"

namespace {

using rdd::lock::MapsEntry;

std::string print(const MapsEntry& e) {
    char head[160];
    std::snprintf(head, sizeof head, "%" PRIx64 "-%" PRIx64 " %c%c%c%c %08" PRIx64 " %02x:%02x %" PRIu64 " ",
                  e.start, e.end, e.read ? 'r' : '-', e.write ? 'w' : '-', e.exec ? 'x' : '-',
                  e.shared ? 's' : 'p', e.offset, e.dev_major, e.dev_minor, e.inode);
    std::string line = std::string(head) + std::string(26, ' ');
    for (const char c : e.path) {
        if (c == '\n') line += "\\012";
        else line += c;
    }
    if (e.deleted) line += " (deleted)";
    return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = rdd::fuzz::text(data, size);
    const auto entries = rdd::lock::parse_maps(text);
    std::size_t lines = 0;
    for (std::size_t at = 0; at < text.size(); ++lines) {
        const auto nl = text.find('\n', at);
        at = nl == std::string_view::npos ? text.size() : nl + 1;
    }
    FUZZ_CHECK(entries.size() <= lines);
    for (const MapsEntry& e : entries) {
        FUZZ_CHECK(e.start <= e.end);
        FUZZ_CHECK(e.path.empty() || (e.path.front() != ' ' && e.path.front() != '\t'));
        const auto again = rdd::lock::parse_maps_line(print(e));
        FUZZ_CHECK(again && *again == e);
        char name[48];
        std::snprintf(name, sizeof name, "%" PRIx64 "-%" PRIx64, e.start, e.end);
        FUZZ_CHECK(rdd::lock::map_files_name(e) == name);
        FUZZ_CHECK(rdd::lock::writes_to_file(e) == (e.write && e.shared && e.inode != 0));
    }
    return 0;
}
