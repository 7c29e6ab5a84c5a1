#pragma once
// The independent computation the hasher is checked against: the whole file read with
// one read and hashed by xxHash's plain one-shot XXH3_128bits (not the dispatch variants
// the product uses), per block and over everything.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

#include "reflinkdedup/hash/digest.hpp"
#include "support/read_file.hpp"

namespace rdd::hash::test {

struct ReferenceDigests {
    std::vector<Digest128> blocks;
    std::vector<bool> zero;
    Digest128 whole;
    std::uint64_t size = 0;
};

inline Digest128 reference_xxh3(const void* data, std::size_t len) {
    const XXH128_hash_t h = XXH3_128bits(data, len);
    return Digest128{h.high64, h.low64};
}

inline std::vector<char> read_whole_file(const std::filesystem::path& path) { return rdd::test::read_file(path); }

inline ReferenceDigests reference_digests(const std::filesystem::path& path, std::uint32_t block_size) {
    const std::vector<char> data = read_whole_file(path);
    ReferenceDigests r;
    r.size = data.size();
    r.whole = reference_xxh3(data.data(), data.size());
    for (std::size_t off = 0; off < data.size(); off += block_size) {
        const std::size_t len = std::min<std::size_t>(block_size, data.size() - off);
        r.blocks.push_back(reference_xxh3(data.data() + off, len));
        r.zero.push_back(rdd::test::all_zero(data.data() + off, len));
    }
    return r;
}

}  // namespace rdd::hash::test
