// The freeze journal file (STATE_DIR/freeze-journal), which recover() trusts after a crash:
// whatever decodes must re-encode to a text that decodes to the same entries, and encoding
// is then a fixed point. Any failure is a JournalFormatError, never a crash.
#include <algorithm>

#include "fuzz_check.hpp"
#include "reflinkdedup/lock/file_freeze_journal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace rdd::lock;
    std::vector<FreezeEntry> entries;
    try {
        entries = decode_freeze_journal(rdd::fuzz::text(data, size));
    } catch (const JournalFormatError&) {
        return 0;
    }
    for (const auto& e : entries) FUZZ_CHECK(!e.path.empty());
    const std::string text = encode_freeze_journal(entries);
    std::vector<FreezeEntry> again;
    bool decodes = true;  // what we encode must decode
    try {
        again = decode_freeze_journal(text);
    } catch (const JournalFormatError&) {
        decodes = false;
    }
    FUZZ_CHECK(decodes);
    FUZZ_CHECK(again == entries);
    FUZZ_CHECK(encode_freeze_journal(again) == text);
    // One line per entry after the header, nothing else: a path cannot split a line.
    FUZZ_CHECK(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) == entries.size() + 1);
    return 0;
}
