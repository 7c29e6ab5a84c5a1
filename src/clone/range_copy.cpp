#include "reflinkdedup/clone/range_copy.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>

#include "reflinkdedup/util/sys_error.hpp"

namespace rdd {

namespace {

constexpr std::size_t kChunk = 1 << 20;

std::uint64_t align_up(std::uint64_t n, std::uint64_t unit) { return (n + unit - 1) / unit * unit; }

bool all_zero(std::span<const std::byte> b) {
    return std::all_of(b.begin(), b.end(), [](std::byte x) { return x == std::byte{0}; });
}

void write_all(int fd, std::span<const std::byte> data, std::uint64_t offset, const std::string& what) {
    while (!data.empty()) {
        const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno("write", what);
        data = data.subspan(static_cast<std::size_t>(n));
        offset += static_cast<std::uint64_t>(n);
    }
}

std::size_t read_some(int fd, std::span<std::byte> buf, std::uint64_t offset, const std::string& path) {
    std::size_t done = 0;
    while (done < buf.size()) {
        const ssize_t n = ::pread(fd, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read", path);
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

}  // namespace

UniqueFd open_scratch_file(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (fd) return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) throw_errno("open O_TMPFILE in", dir);
    // No O_TMPFILE here: a hidden name, gone again before anything is written to it.
    std::string name = dir + "/.reflinkdedup-move.XXXXXX";
    fd = UniqueFd(::mkostemp(name.data(), O_CLOEXEC));
    if (!fd) throw_errno("create scratch file", name);
    if (::unlink(name.c_str()) != 0) throw_errno("unlink scratch file", name);
    return fd;
}

RangeCopy copy_pieces(int fd, const std::string& path, std::span<const MovePiece> pieces, std::uint64_t file_size,
                      const std::string& dir, std::uint64_t block_size, bool sparse) {
    // Runs of extent bytes to copy once each; a piece ending in a partial block at EOF on its
    // own, last.
    const auto at_eof = [&](const MovePiece& p) {
        return p.file_offset + p.length == file_size && file_size % block_size != 0;
    };
    std::vector<ByteRange> runs;
    for (const MovePiece& p : pieces) {
        if (!at_eof(p)) runs.push_back({p.extent_offset, p.length});
    }
    runs = normalized(std::move(runs));
    UniqueFd copy = open_scratch_file(dir);
    const std::string what = "scratch copy of " + path;
    std::vector<std::byte> buf(kChunk);
    const auto bs = static_cast<std::size_t>(block_size);
    std::uint64_t at = 0, written = 0, read = 0;
    // Copies file bytes [from, from+len) to the copy at `to`.
    auto transfer = [&](std::uint64_t from, std::uint64_t len, std::uint64_t to) {
        for (std::uint64_t done = 0; done < len;) {
            const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, len - done));
            const std::size_t got = read_some(fd, std::span(buf).first(want), from + done, path);
            if (got != want) throw SysError(EIO, "read (file shorter than planned)", path);
            read += got;
            for (std::size_t b = 0; b < got; b += bs) {  // zeros stay holes in the copy
                const auto piece = std::span<const std::byte>(buf).subspan(b, std::min(bs, got - b));
                if (sparse && all_zero(piece)) continue;
                write_all(copy.get(), piece, to + done + b, what);
                written += piece.size();
            }
            done += got;
        }
    };
    std::vector<std::uint64_t> run_at;  // copy offset of each run
    for (const ByteRange& run : runs) {
        at = align_up(at, block_size);
        run_at.push_back(at);
        // Each byte of the run from some piece that uses it.
        for (std::uint64_t pos = run.offset; pos < run.end();) {
            const auto p = std::find_if(pieces.begin(), pieces.end(), [&](const MovePiece& x) {
                return !at_eof(x) && x.extent_offset <= pos && pos < x.extent_offset + x.length;
            });
            const std::uint64_t len = std::min(run.end(), p->extent_offset + p->length) - pos;
            transfer(p->file_offset + (pos - p->extent_offset), len, at + (pos - run.offset));
            pos += len;
        }
        at += run.length;
    }
    std::vector<CopiedRange> placed;
    for (const MovePiece& p : pieces) {
        if (at_eof(p)) continue;
        const auto r = std::upper_bound(runs.begin(), runs.end(), p.extent_offset,
                                        [](std::uint64_t pos, const ByteRange& x) { return pos < x.end(); });
        const std::uint64_t base = run_at[static_cast<std::size_t>(r - runs.begin())];
        placed.push_back({p.file_offset, base + (p.extent_offset - r->offset), p.length});
    }
    for (const MovePiece& p : pieces) {
        if (!at_eof(p)) continue;
        at = align_up(at, block_size);
        transfer(p.file_offset, p.length, at);
        placed.push_back({p.file_offset, at, p.length});
        at += p.length;
    }
    if (::ftruncate(copy.get(), static_cast<off_t>(at)) != 0) throw_errno("truncate", what);
    // Allocation happens at writeback: a full filesystem shows up here at the latest.
    if (::fdatasync(copy.get()) != 0) throw_errno("fdatasync", what);
    return RangeCopy(std::move(copy), std::move(placed), written, read);
}

}  // namespace rdd
