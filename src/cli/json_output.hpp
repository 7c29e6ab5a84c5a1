#pragma once
// JSON as every command prints it: one object on one line. File names need not be UTF-8, so
// invalid bytes are replaced (U+FFFD) rather than failing the report.
#include <nlohmann/json.hpp>
#include <ostream>
#include <span>

#include "reflinkdedup/app/file_set.hpp"

namespace rdd::cli {

inline void print_json_line(std::ostream& out, const nlohmann::json& j) {
    out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

// [{path, reason}, ...]
inline nlohmann::json skipped_json(std::span<const SkippedFile> skipped) {
    auto list = nlohmann::json::array();
    for (const SkippedFile& s : skipped) list.push_back({{"path", s.path}, {"reason", s.reason}});
    return list;
}

}  // namespace rdd::cli
