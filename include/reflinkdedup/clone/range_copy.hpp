#pragma once
// The first half of moving ranges of a file into a new extent without changing a byte of it:
// copy them into a new, unnamed file on the same filesystem. The second half is FIDEDUPERANGE
// of each range of the file onto its copy: the kernel compares, so a file that changed
// meanwhile is left alone (DIFFERS), never overwritten.
//
// The copy is written through the filesystem (mount-option compression applies); all-zero
// blocks may be left out (holes: deduping a hole onto zeros leaves the range unallocated,
// KERNEL-FACTS §11). The file has no name (O_TMPFILE; where unsupported, a hidden name
// unlinked right after creation), so nothing is left behind, even after kill -9.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reflinkdedup/plan/extent_release.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace rdd {

struct CopiedRange {
    std::uint64_t file_offset = 0;
    std::uint64_t copy_offset = 0;
    std::uint64_t length = 0;
};

class RangeCopy {
public:
    RangeCopy(UniqueFd fd, std::vector<CopiedRange> ranges, std::uint64_t written, std::uint64_t read)
        : fd_(std::move(fd)), ranges_(std::move(ranges)), written_(written), read_(read) {}

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    // One per piece; a piece ending in a partial block at the file's EOF comes last, copied on
    // its own, and ends at the copy's EOF (the kernel shares a partial last block only between
    // two EOFs).
    [[nodiscard]] std::span<const CopiedRange> ranges() const noexcept { return ranges_; }
    [[nodiscard]] std::uint64_t bytes_written() const noexcept { return written_; }  // zeros left out
    [[nodiscard]] std::uint64_t bytes_read() const noexcept { return read_; }

private:
    UniqueFd fd_;
    std::vector<CopiedRange> ranges_;
    std::uint64_t written_;
    std::uint64_t read_;
};

// An unnamed regular file in directory `dir` (O_TMPFILE, else created and unlinked at once).
[[nodiscard]] UniqueFd open_scratch_file(const std::string& dir);

// Copies what `pieces` (file ranges within [0, file_size), with their place in the old extent)
// of `fd` hold into a scratch file in `dir` and flushes it to disk. Pieces that use the same
// bytes of the extent get the same copy of them (an intra-file share stays one); each run of
// extent bytes starts at an offset aligned to `block_size`. `sparse`: all-zero blocks are not
// written (holes). Throws SysError: with err() ENOSPC or EDQUOT when the filesystem has no room
// for the copy.
[[nodiscard]] RangeCopy copy_pieces(int fd, const std::string& path, std::span<const MovePiece> pieces,
                                    std::uint64_t file_size, const std::string& dir, std::uint64_t block_size,
                                    bool sparse = true);

}  // namespace rdd
