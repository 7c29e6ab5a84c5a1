#pragma once
// FS_IOC_FIEMAP: where a file's bytes live on disk.
#include <cstdint>
#include <string>
#include <vector>

#include "reflinkdedup/model/extent.hpp"

namespace rdd {

// Extents overlapping [start, start+length) of the open file, in logical order. Does not force
// writeback: dirty ranges come back flagged unknown (delalloc), which callers treat as "not
// known to be shared".
[[nodiscard]] std::vector<Extent> read_fiemap(int fd, std::uint64_t start, std::uint64_t length,
                                              const std::string& path);

}  // namespace rdd
