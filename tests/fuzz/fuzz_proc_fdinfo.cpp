// /proc/PID/fdinfo/N text: the "flags:" value against an independent reading of the first
// line that starts with it (octal digits only, fits 32 bits), and a round trip through the
// kernel's own format.
#include <optional>
#include <string>

#include "fuzz_check.hpp"
#include "reflinkdedup/lock/proc_parse.hpp"

namespace {

bool blank(char c) { return c == ' ' || c == '\t'; }

std::optional<std::uint32_t> oracle(std::string_view text) {
    for (;;) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        if (line.starts_with("flags:")) {
            line.remove_prefix(6);
            while (!line.empty() && blank(line.front())) line.remove_prefix(1);
            while (!line.empty() && blank(line.back())) line.remove_suffix(1);
            if (line.empty()) return std::nullopt;
            std::uint64_t v = 0;
            for (const char c : line) {
                if (c < '0' || c > '7') return std::nullopt;
                v = v * 8 + static_cast<std::uint64_t>(c - '0');
                if (v > 0xffffffffu) return std::nullopt;
            }
            return static_cast<std::uint32_t>(v);
        }
        if (nl == std::string_view::npos) return std::nullopt;
        text.remove_prefix(nl + 1);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = rdd::fuzz::text(data, size);
    const auto flags = rdd::lock::parse_fdinfo_flags(text);
    FUZZ_CHECK(flags == oracle(text));
    if (flags) {
        char line[64];
        std::snprintf(line, sizeof line, "pos:\t0\nflags:\t0%o\nmnt_id:\t31\n", *flags);
        FUZZ_CHECK(rdd::lock::parse_fdinfo_flags(line) == flags);
        const auto mode = *flags & 3u;
        FUZZ_CHECK(rdd::lock::opened_for_write(*flags) == (mode == 1 || mode == 2));
    }
    return 0;
}
