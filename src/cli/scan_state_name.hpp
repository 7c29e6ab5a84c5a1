#pragma once
// A volume's scan state as show-vols, report and their JSON spell it.
#include "reflinkdedup/catalog/types.hpp"

namespace rdd::cli {

[[nodiscard]] inline const char* scan_state_name(catalog::ScanState s) noexcept {
    switch (s) {
        case catalog::ScanState::never: return "never";
        case catalog::ScanState::scanning: return "scanning";
        case catalog::ScanState::complete: return "complete";
        case catalog::ScanState::interrupted: return "interrupted";
    }
    return "?";
}

}  // namespace rdd::cli
