// Benchmark driver for scripts/bench-scan-vs-cat.sh (not a test).
//   hash_bench scan [--engine auto|io_uring|pread] [--block B] [--depth N] [--read-size B]
//                   [--files N] [--per-file N] [--threads N] [--drop-cache] DIR...
//       walks DIRs, hashes every regular file, prints one line of key=value results.
//   hash_bench cpu [--block B] [--gib G]
//       CPU cost of the per-block work on data already in memory (zero check, block digest,
//       whole-file stream), in GB/s.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "reflinkdedup/fs/regular_file.hpp"
#include "reflinkdedup/hash/hasher.hpp"
#include "reflinkdedup/hash/zero_block.hpp"

namespace {

using namespace rdd::hash;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

class CountingSink : public HashSink {
public:
    void on_block(const BlockDigest& b) override {
        blocks += 1;
        zero_blocks += b.is_zero ? 1 : 0;
        checksum ^= b.digest.low;
    }
    void on_file_done(FileDigest& f) override {
        files += 1;
        bytes += f.bytes_read;
        if (f.error) {
            errors += 1;
            std::cerr << "error (token " << f.token << "): " << f.error->message << '\n';
        }
    }
    std::uint64_t files = 0, bytes = 0, blocks = 0, zero_blocks = 0, errors = 0, checksum = 0;
};

std::uint32_t parse_u32(const char* s) { return static_cast<std::uint32_t>(std::stoul(s, nullptr, 0)); }

int scan(int argc, char** argv) {
    HasherOptions o;
    std::vector<std::filesystem::path> dirs;
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&] {
            if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
            return argv[++i];
        };
        if (a == "--engine") {
            const std::string e = next();
            o.engine = e == "pread" ? EngineChoice::Pread : e == "io_uring" ? EngineChoice::IoUring : EngineChoice::Auto;
        } else if (a == "--block") {
            o.block_size = parse_u32(next());
        } else if (a == "--depth") {
            o.queue_depth = parse_u32(next());
        } else if (a == "--read-size") {
            o.read_size = parse_u32(next());
        } else if (a == "--files") {
            o.max_files_in_flight = parse_u32(next());
        } else if (a == "--per-file") {
            o.max_reads_per_file = parse_u32(next());
        } else if (a == "--threads") {
            o.pread_threads = parse_u32(next());
        } else if (a == "--drop-cache") {
            o.drop_cache = true;
        } else {
            dirs.emplace_back(a);
        }
    }
    CountingSink sink;
    const auto t0 = Clock::now();
    Hasher h(sink, o);
    std::uint64_t token = 0, unusable = 0;
    for (const auto& dir : dirs) {
        for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
            if (!e.is_regular_file(/* follows symlinks; open_regular_file refuses them */)) continue;
            rdd::OpenedFile f = rdd::open_regular_file(e.path().string());
            if (f.problem) {
                ++unusable;
                continue;
            }
            FileJob j;
            j.fd = std::move(f.fd);
            j.size = static_cast<std::uint64_t>(f.st.st_size);
            j.token = token++;
            h.submit(std::move(j));
        }
    }
    h.finish();
    const double s = seconds_since(t0);
    std::printf("engine=%s files=%llu bytes=%llu seconds=%.3f MBps=%.1f blocks=%llu zero_blocks=%llu "
                "errors=%llu unusable=%llu\n",
                std::string(to_string(h.engine())).c_str(), static_cast<unsigned long long>(sink.files),
                static_cast<unsigned long long>(sink.bytes), s, static_cast<double>(sink.bytes) / s / 1e6,
                static_cast<unsigned long long>(sink.blocks), static_cast<unsigned long long>(sink.zero_blocks),
                static_cast<unsigned long long>(sink.errors), static_cast<unsigned long long>(unusable));
    if (!h.engine_note().empty()) std::printf("engine_note=%s\n", h.engine_note().c_str());
    return sink.errors == 0 ? 0 : 1;
}

// Runs `work` over a cache-resident 1 MiB buffer until `total` bytes were processed.
template <class F>
double gbps(std::uint64_t total, const std::vector<std::byte>& buf, std::uint32_t block, F&& work) {
    const auto t0 = Clock::now();
    for (std::uint64_t done = 0; done < total; done += buf.size())
        for (std::size_t off = 0; off < buf.size(); off += block) work(std::span(buf).subspan(off, block));
    return static_cast<double>(total) / seconds_since(t0) / 1e9;
}

int cpu(int argc, char** argv) {
    std::uint32_t block = 128 * 1024;
    double gib = 8;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--block") == 0) block = parse_u32(argv[i + 1]);
        if (std::strcmp(argv[i], "--gib") == 0) gib = std::atof(argv[i + 1]);
    }
    const std::size_t buf_size = std::max<std::size_t>(block, 1 << 20);
    std::vector<std::byte> random(buf_size), zeros(buf_size);
    std::mt19937_64 rng(1);
    for (auto& b : random) b = static_cast<std::byte>(rng());
    const auto total = static_cast<std::uint64_t>(gib * static_cast<double>(1ull << 30));

    std::uint64_t sink = 0;
    const double zero_random = gbps(total, random, block, [&](auto b) { sink += is_all_zero(b) ? 1u : 0u; });
    const double zero_zeros = gbps(total, zeros, block, [&](auto b) { sink += is_all_zero(b) ? 1u : 0u; });
    const double digest = gbps(total, random, block, [&](auto b) { sink ^= digest_of(b).low; });
    StreamingDigest whole;
    const double stream = gbps(total, random, block, [&](auto b) { whole.update(b); });
    // What the hasher does per non-zero block: zero check, block digest, whole-file update.
    const double all = gbps(total, random, block, [&](auto b) {
        if (!is_all_zero(b)) sink ^= digest_of(b).low;
        whole.update(b);
    });
    // Random data leaves the zero check at its first vector: a time per block says more.
    const double zero_random_ns = static_cast<double>(block) / zero_random;
    std::printf("block=%u GB/s: block_digest=%.1f whole_stream=%.1f zero_check_on_zeros=%.1f "
                "per_block_total=%.1f | zero_check_on_random=%.1f ns/block (sink %llu)\n",
                block, digest, stream, zero_zeros, all, zero_random_ns,
                static_cast<unsigned long long>(sink ^ whole.digest().low) & 1);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc >= 2 && std::strcmp(argv[1], "scan") == 0) return scan(argc - 2, argv + 2);
        if (argc >= 2 && std::strcmp(argv[1], "cpu") == 0) return cpu(argc - 2, argv + 2);
        std::cerr << "usage: hash_bench scan [options] DIR... | hash_bench cpu [--block B] [--gib G]\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "hash_bench: " << e.what() << '\n';
        return 1;
    }
}
