// rdd_bench_btrfs_scan: timings of the full INODE_ITEM pass and the incremental (min_transid)
// search on a btrfs subvolume. A program, not a test: scripts/bench-btrfs-incremental.sh runs it.
//
//   rdd_bench_btrfs_scan populate DIR FILES       FILES small files, 1000 per directory
//   rdd_bench_btrfs_scan generation SUBVOL        commit, print the generation
//   rdd_bench_btrfs_scan full SUBVOL [REPEAT]     full pass: every inode
//   rdd_bench_btrfs_scan incremental SUBVOL GEN [REPEAT]   inodes changed after GEN + their extents
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "reflinkdedup/btrfs/inode_scan.hpp"
#include "reflinkdedup/btrfs/subvolume.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "reflinkdedup/util/unique_fd.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

rdd::UniqueFd open_dir(const std::string& path) {
    rdd::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) rdd::throw_errno("open", path);
    return fd;
}

int populate(const std::string& dir, unsigned long files) {
    char name[64];
    for (unsigned long i = 0; i < files; ++i) {
        const std::filesystem::path sub =
            std::filesystem::path(dir) / ("d" + std::to_string(i / 1000));
        if (i % 1000 == 0) std::filesystem::create_directories(sub);
        std::snprintf(name, sizeof name, "f%05lu", i % 1000);
        const std::string path = (sub / name).string();
        const rdd::UniqueFd fd(
            ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd) rdd::throw_errno("open", path);
        const std::string content = "small file " + std::to_string(i) + "\n";
        if (::write(fd.get(), content.data(), content.size()) !=
            static_cast<ssize_t>(content.size())) {
            rdd::throw_errno("write", path);
        }
    }
    return 0;
}

int full(const std::string& subvol, int repeat) {
    const rdd::UniqueFd fd = open_dir(subvol);
    for (int r = 0; r < repeat; ++r) {
        const auto start = Clock::now();
        rdd::btrfs::InodeScan scan(fd.get(), 0, subvol);
        unsigned long inodes = 0;
        while (scan.next()) ++inodes;
        const double ms = ms_since(start);
        std::printf("full ms=%.2f inodes=%lu items=%llu calls=%llu\n", ms, inodes,
                    static_cast<unsigned long long>(scan.stats().items),
                    static_cast<unsigned long long>(scan.stats().ioctl_calls));
    }
    return 0;
}

int incremental(const std::string& subvol, std::uint64_t generation, int repeat) {
    const rdd::UniqueFd fd = open_dir(subvol);
    for (int r = 0; r < repeat; ++r) {
        const auto start = Clock::now();
        // What changes_since does, with the search statistics kept.
        rdd::btrfs::InodeScan scan(fd.get(), generation + 1, subvol);
        unsigned long inodes = 0, extents = 0;
        while (auto c = scan.next()) {
            ++inodes;
            if (c->inode.is_regular())
                extents += rdd::btrfs::read_file_extents(fd.get(), c->ino, subvol).size();
        }
        const double ms = ms_since(start);
        std::printf("incremental ms=%.3f inodes=%lu extents=%lu items=%llu calls=%llu\n", ms,
                    inodes, extents, static_cast<unsigned long long>(scan.stats().items),
                    static_cast<unsigned long long>(scan.stats().ioctl_calls));
    }
    return 0;
}

int usage() {
    std::fprintf(stderr,
                 "usage: rdd_bench_btrfs_scan populate DIR FILES | generation SUBVOL |\n"
                 "       full SUBVOL [REPEAT] | incremental SUBVOL GEN [REPEAT]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string mode = argc > 1 ? argv[1] : "";
        if (mode == "populate" && argc == 4) return populate(argv[2], std::stoul(argv[3]));
        if (mode == "generation" && argc == 3) {
            const rdd::UniqueFd fd = open_dir(argv[2]);
            std::printf("%llu\n", static_cast<unsigned long long>(
                                      rdd::btrfs::committed_generation(fd.get(), argv[2])));
            return 0;
        }
        if (mode == "full" && (argc == 3 || argc == 4))
            return full(argv[2], argc == 4 ? std::stoi(argv[3]) : 1);
        if (mode == "incremental" && (argc == 4 || argc == 5)) {
            return incremental(argv[2], std::stoull(argv[3]), argc == 5 ? std::stoi(argv[4]) : 1);
        }
        return usage();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rdd_bench_btrfs_scan: %s\n", e.what());
        return 1;
    }
}
