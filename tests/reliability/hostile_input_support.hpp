#pragma once
// Shared by the hostile-input tests: the binary run under a time limit (a FIFO or device that
// is opened would block or never end), offset-aware FIEMAP sharing, and checks that an output
// holds exactly one line or that a file's data ranges are what was written.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "integration/cli_runner.hpp"
#include "support/file_checks.hpp"
#include "support/process.hpp"

namespace rdd::test::hostile {

namespace fs = std::filesystem;
inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;

// reflinkdedup args..., killed after `seconds` (exit 124 then, signal 9 after 5 more seconds).
// `prefix` runs before the binary, e.g. setpriv as another user.
inline CliRun run_limited(const std::vector<std::string>& args, int seconds = 60,
                          const std::vector<std::string>& prefix = {}) {
    std::vector<std::string> argv{"timeout", "--kill-after=5", std::to_string(seconds)};
    argv.insert(argv.end(), prefix.begin(), prefix.end());
    argv.emplace_back(RDD_BINARY);
    argv.insert(argv.end(), args.begin(), args.end());
    CliRun run{run_process(argv), nullptr};
    run.json = nlohmann::json::parse(run.process.out, nullptr, /*allow_exceptions=*/false);
    if (run.json.is_discarded()) run.json = nullptr;
    return run;
}

[[nodiscard]] inline std::size_t count_lines(const std::string& s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

// Exit 2 with exactly one line on stderr containing `why`, nothing on stdout.
inline void expect_refused(const CliRun& r, const std::string& why) {
    EXPECT_EQ(r.process.exit_code, 2) << describe(r);
    EXPECT_EQ(count_lines(r.process.err), 1u) << describe(r);
    EXPECT_NE(r.process.err.find(why), std::string::npos) << describe(r);
    EXPECT_TRUE(r.process.out.empty()) << describe(r);
}

// Bytes of [a_off, a_off+len) in `a` that map to the same physical bytes as [b_off, ...) in
// `b`, counted per 4 KiB (both offsets 4 KiB aligned). Flagged-unknown/inline extents never count.
[[nodiscard]] inline std::uint64_t shared_at(const std::vector<PhysExtent>& a, std::uint64_t a_off,
                                             const std::vector<PhysExtent>& b, std::uint64_t b_off,
                                             std::uint64_t len) {
    constexpr std::uint32_t kNoPhys = 0x2 | 0x4 | 0x8 | 0x200;  // UNKNOWN, DELALLOC, ENCODED, DATA_INLINE
    const auto phys = [&](const std::vector<PhysExtent>& ext, std::uint64_t at) -> std::optional<std::uint64_t> {
        for (const PhysExtent& e : ext) {
            if (at >= e.logical && at < e.logical + e.length && (e.flags & kNoPhys) == 0) {
                return e.physical + (at - e.logical);
            }
        }
        return std::nullopt;
    };
    std::uint64_t n = 0;
    for (std::uint64_t off = 0; off < len; off += 4096) {
        const auto pa = phys(a, a_off + off), pb = phys(b, b_off + off);
        if (pa && pb && *pa == *pb) n += std::min<std::uint64_t>(4096, len - off);
    }
    return n;
}

// The bytes write_random_file(path, len, seed) would write.
[[nodiscard]] inline std::vector<char> random_bytes(std::uint64_t len, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::vector<char> out(len);
    for (std::uint64_t i = 0; i < len; i += 8) {
        const std::uint64_t w = gen();
        std::memcpy(out.data() + i, &w, std::min<std::uint64_t>(8, len - i));
    }
    return out;
}

// A sparse file: `size` bytes of holes with the given (offset, length, seed) data pieces.
struct Piece {
    std::uint64_t offset;
    std::uint64_t length;
    std::uint64_t seed;
};
inline void write_sparse(const fs::path& p, std::uint64_t size, const std::vector<Piece>& pieces) {
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << p;
    for (const Piece& piece : pieces) {
        const auto data = random_bytes(piece.length, piece.seed);
        ASSERT_EQ(::pwrite(fd, data.data(), data.size(), static_cast<off_t>(piece.offset)),
                  static_cast<ssize_t>(data.size()));
    }
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
    ASSERT_EQ(::fsync(fd), 0);
    ::close(fd);
}

// The file still has exactly these data pieces (read back) and holes everywhere else
// (SEEK_DATA finds nothing between them), without reading the holes.
inline void expect_sparse_content(const fs::path& p, std::uint64_t size, const std::vector<Piece>& pieces) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << p;
    struct stat st {};
    ASSERT_EQ(::fstat(fd, &st), 0);
    EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), size) << p;
    std::uint64_t pos = 0;
    for (const Piece& piece : pieces) {
        const off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
        EXPECT_EQ(data, static_cast<off_t>(piece.offset)) << p << ": data where a hole was";
        std::vector<char> got(piece.length);
        ASSERT_EQ(::pread(fd, got.data(), got.size(), static_cast<off_t>(piece.offset)),
                  static_cast<ssize_t>(got.size()));
        EXPECT_TRUE(got == random_bytes(piece.length, piece.seed)) << p << " at " << piece.offset;
        pos = piece.offset + piece.length;
    }
    if (pos < size) {
        EXPECT_EQ(::lseek(fd, static_cast<off_t>(pos), SEEK_DATA), -1) << p << ": data after the last piece";
    }
    ::close(fd);
}

}  // namespace rdd::test::hostile
