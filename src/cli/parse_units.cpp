#include "parse_units.hpp"

#include <charconv>
#include <string>

namespace rdd::cli {

namespace {

// Splits "123abc" into 123 and "abc".
std::optional<std::pair<std::uint64_t, std::string_view>> number_and_unit(std::string_view t) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (ec != std::errc() || end == t.data()) return std::nullopt;
    return std::pair{n, t.substr(static_cast<std::size_t>(end - t.data()))};
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
    const auto nu = number_and_unit(text);
    if (!nu) return std::nullopt;
    std::string unit(nu->second);
    if (unit.size() == 3 && unit.substr(1) == "iB") unit.resize(1);
    int shift = 0;
    if (unit.empty() || unit == "B") shift = 0;
    else if (unit == "K" || unit == "k") shift = 10;
    else if (unit == "M") shift = 20;
    else if (unit == "G") shift = 30;
    else if (unit == "T") shift = 40;
    else return std::nullopt;
    if (shift > 0 && nu->first > (UINT64_MAX >> shift)) return std::nullopt;
    return nu->first << shift;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    const auto nu = number_and_unit(text);
    if (!nu) return std::nullopt;
    const auto n = static_cast<std::int64_t>(nu->first);
    const std::string_view u = nu->second;
    if (u == "ms") return std::chrono::milliseconds(n);
    if (u.empty() || u == "s") return std::chrono::seconds(n);
    if (u == "m" || u == "min") return std::chrono::minutes(n);
    if (u == "h") return std::chrono::hours(n);
    return std::nullopt;
}

}  // namespace rdd::cli
