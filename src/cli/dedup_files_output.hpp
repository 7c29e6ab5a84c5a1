#pragma once
#include <iosfwd>

#include "reflinkdedup/app/dedup_files.hpp"

namespace rdd::cli {

void print_text(std::ostream& out, const DedupFilesReport& r);
void print_json(std::ostream& out, const DedupFilesReport& r);

}  // namespace rdd::cli
