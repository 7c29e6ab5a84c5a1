#pragma once
// The independent computation the hasher is checked against: the whole file read with
// std::ifstream and hashed by xxHash's plain one-shot XXH3_128bits (not the dispatch variants
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

inline std::vector<char> read_whole_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline ReferenceDigests reference_digests(const std::filesystem::path& path, std::uint32_t block_size) {
    const std::vector<char> data = read_whole_file(path);
    ReferenceDigests r;
    r.size = data.size();
    r.whole = reference_xxh3(data.data(), data.size());
    for (std::size_t off = 0; off < data.size(); off += block_size) {
        const std::size_t len = std::min<std::size_t>(block_size, data.size() - off);
        r.blocks.push_back(reference_xxh3(data.data() + off, len));
        bool z = true;
        for (std::size_t i = off; i < off + len && z; ++i) z = data[i] == 0;
        r.zero.push_back(z);
    }
    return r;
}

}  // namespace rdd::hash::test
