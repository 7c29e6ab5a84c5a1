#include "reflinkdedup/ops/log_format.hpp"

#include <charconv>
#include <cstdint>

namespace rdd::ops {

std::string priority_prefix(Priority p) { return "<" + std::to_string(static_cast<int>(p)) + ">"; }

bool journal_stream_matches(std::optional<std::string_view> journal_stream, dev_t dev, ino_t ino) {
    if (!journal_stream) return false;
    const std::string_view s = *journal_stream;
    const auto colon = s.find(':');
    if (colon == std::string_view::npos) return false;
    std::uint64_t d = 0, i = 0;
    const auto [dend, dec] = std::from_chars(s.data(), s.data() + colon, d);
    const auto [iend, iec] = std::from_chars(s.data() + colon + 1, s.data() + s.size(), i);
    if (dec != std::errc() || dend != s.data() + colon || iec != std::errc() || iend != s.data() + s.size()) {
        return false;
    }
    return d == static_cast<std::uint64_t>(dev) && i == static_cast<std::uint64_t>(ino);
}

}  // namespace rdd::ops
