#pragma once
// Helpers for the catalog unit tests: a private temp directory, records and blocks.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/write_batch.hpp"

namespace rdd::catalog::testing {

class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "rdd-catalog-test.XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

inline unsigned mode_of(const std::filesystem::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return 0xFFFF;
    return st.st_mode & 07777;
}

inline OpenOptions writer_options(std::uint32_t block_size = 4096) {
    OpenOptions o;
    o.block_size = block_size;
    return o;
}

inline FileRecord record(std::uint64_t ino, std::uint64_t gen = 1, std::string path = {}, VolumeId volume = 1) {
    FileRecord r;
    r.identity = FileIdentity{5, ino, gen};
    r.volume = volume;
    r.size = 4096 * 4;
    r.mtime_ns = 1'000 + static_cast<std::int64_t>(ino);
    r.ctime_ns = 2'000 + static_cast<std::int64_t>(ino);
    r.path = path.empty() ? "dir/file" + std::to_string(ino) : std::move(path);
    r.state = FileState::hashed;
    return r;
}

inline Digest digest(std::uint64_t n) { return Digest{n * 0x9E3779B97F4A7C15ULL + 1, n}; }

// Blocks 0..n-1 with digests digest(base + i) and physical addresses.
inline std::vector<Block> blocks(std::uint64_t base, std::uint64_t n) {
    std::vector<Block> out;
    for (std::uint64_t i = 0; i < n; ++i) out.push_back(Block{i, digest(base + i), (base + i + 1) * 4096, false});
    return out;
}

inline std::vector<Block> read_blocks(const Catalog& c, FileId f) {
    std::vector<Block> out;
    c.for_each_block(f, [&](const Block& b) {
        out.push_back(b);
        return true;
    });
    return out;
}

inline std::vector<ZeroRun> read_zero_runs(const Catalog& c, FileId f) {
    std::vector<ZeroRun> out;
    c.for_each_zero_run(f, [&](const ZeroRun& r) {
        out.push_back(r);
        return true;
    });
    return out;
}

}  // namespace rdd::catalog::testing
