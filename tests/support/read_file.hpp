#pragma once
// Whole-file reads and zero checks for tests, in bulk: a byte-at-a-time stream iterator costs
// seconds per megabyte under ASan at -O0, and the suite runs there too.
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace rdd::test {

inline std::vector<char> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    std::vector<char> data(static_cast<std::size_t>(in.tellg()));
    in.seekg(0);
    if (!in.read(data.data(), static_cast<std::streamsize>(data.size()))) {
        throw std::runtime_error("cannot read " + path.string());
    }
    return data;
}

inline std::string read_file_string(const std::filesystem::path& path) {
    const std::vector<char> data = read_file(path);
    return {data.begin(), data.end()};
}

// A range is all zeros when its first byte is and every byte equals the one before it.
inline bool all_zero(const char* p, std::size_t n) {
    return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}

}  // namespace rdd::test
