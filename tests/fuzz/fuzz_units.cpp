// Sizes and durations as the command line and the configuration file give them
// (--block-size, --min-size, --wait, --max-runtime): a value parses to what its number and
// unit say, without overflowing, and prints back to a text that parses to the same value.
#include <string>

#include "fuzz_check.hpp"
#include "parse_units.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace rdd::cli;
    const std::string_view text = rdd::fuzz::text(data, size);
    if (const auto s = parse_size(text)) {
        FUZZ_CHECK(parse_size(std::to_string(*s)) == s);
        FUZZ_CHECK(parse_size(std::to_string(*s) + "B") == s);
    }
    if (const auto d = parse_duration(text)) {
        FUZZ_CHECK(d->count() >= 0);  // only digits are accepted: never a negative duration
        FUZZ_CHECK(parse_duration(std::to_string(d->count()) + "ms") == d);
    }
    return 0;
}
