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
    const std::string_view u = nu->second;
    std::uint64_t ms_per_unit = 0;
    if (u == "ms") ms_per_unit = 1;
    else if (u.empty() || u == "s") ms_per_unit = 1000;
    else if (u == "m" || u == "min") ms_per_unit = 60'000;
    else if (u == "h") ms_per_unit = 3'600'000;
    else return std::nullopt;
    // More would overflow the signed millisecond count (UB; a huge --wait came out negative).
    constexpr auto kMaxMs = static_cast<std::uint64_t>(std::chrono::milliseconds::max().count());
    if (nu->first > kMaxMs / ms_per_unit) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(nu->first * ms_per_unit));
}

}  // namespace rdd::cli
