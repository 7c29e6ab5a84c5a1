#include "reflinkdedup/lock/proc_parse.hpp"

#include <fcntl.h>

#include <charconv>
#include <cstdio>

namespace rdd::lock {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view skip_spaces(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    return s;
}

// Takes the next space-delimited field off the front of s.
std::string_view next_field(std::string_view& s) {
    s = skip_spaces(s);
    std::size_t n = 0;
    while (n < s.size() && !is_space(s[n])) ++n;
    const std::string_view field = s.substr(0, n);
    s.remove_prefix(n);
    return field;
}

template <typename T>
bool parse_number(std::string_view text, int base, T& out) {
    if (text.empty()) return false;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, out, base);
    return ec == std::errc{} && ptr == end;
}

// "lo-hi" (hex) or "major:minor" (hex): two numbers around a separator.
template <typename T>
bool parse_pair(std::string_view text, char sep, T& a, T& b) {
    const auto pos = text.find(sep);
    if (pos == std::string_view::npos) return false;
    return parse_number(text.substr(0, pos), 16, a) && parse_number(text.substr(pos + 1), 16, b);
}

// seq_file_path() escapes '\n' as the octal "\012"; nothing else in a maps path is escaped,
// so only that sequence is undone (a literal backslash stays as it is).
std::string unescape_newlines(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s.substr(i, 4) == "\\012") {
            out += '\n';
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

}  // namespace

std::optional<std::uint32_t> parse_fdinfo_flags(std::string_view fdinfo) {
    while (!fdinfo.empty()) {
        const auto nl = fdinfo.find('\n');
        std::string_view line = fdinfo.substr(0, nl);
        fdinfo = nl == std::string_view::npos ? std::string_view{} : fdinfo.substr(nl + 1);
        constexpr std::string_view kKey = "flags:";
        if (line.substr(0, kKey.size()) != kKey) continue;
        line.remove_prefix(kKey.size());
        const std::string_view value = next_field(line);
        std::uint32_t flags = 0;
        if (!skip_spaces(line).empty() || !parse_number(value, 8, flags)) return std::nullopt;
        return flags;
    }
    return std::nullopt;
}

bool opened_for_write(std::uint32_t open_flags) noexcept {
    const auto mode = open_flags & static_cast<std::uint32_t>(O_ACCMODE);
    return mode == static_cast<std::uint32_t>(O_WRONLY) || mode == static_cast<std::uint32_t>(O_RDWR);
}

std::optional<MapsEntry> parse_maps_line(std::string_view line) {
    MapsEntry e;
    std::string_view rest = line;
    const auto range = next_field(rest);
    const auto perms = next_field(rest);
    const auto offset = next_field(rest);
    const auto dev = next_field(rest);
    const auto inode = next_field(rest);
    if (!parse_pair(range, '-', e.start, e.end) || e.end < e.start) return std::nullopt;
    if (perms.size() != 4) return std::nullopt;
    e.read = perms[0] == 'r';
    e.write = perms[1] == 'w';
    e.exec = perms[2] == 'x';
    e.shared = perms[3] == 's';
    if (!parse_number(offset, 16, e.offset)) return std::nullopt;
    if (!parse_pair(dev, ':', e.dev_major, e.dev_minor)) return std::nullopt;
    if (!parse_number(inode, 10, e.inode)) return std::nullopt;
    // The path is the rest of the line after the padding, and may itself contain spaces.
    std::string_view path = skip_spaces(rest);
    constexpr std::string_view kDeleted = " (deleted)";
    if (path.size() > kDeleted.size() && path.substr(path.size() - kDeleted.size()) == kDeleted) {
        e.deleted = true;
        path.remove_suffix(kDeleted.size());
    }
    e.path = unescape_newlines(path);
    return e;
}

std::vector<MapsEntry> parse_maps(std::string_view text) {
    std::vector<MapsEntry> out;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        if (auto e = parse_maps_line(text.substr(0, nl))) out.push_back(std::move(*e));
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    }
    return out;
}

bool writes_to_file(const MapsEntry& entry) noexcept {
    return entry.write && entry.shared && entry.inode != 0;
}

std::string map_files_name(const MapsEntry& entry) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%llx-%llx", static_cast<unsigned long long>(entry.start),
                  static_cast<unsigned long long>(entry.end));
    return buf;
}

}  // namespace rdd::lock
