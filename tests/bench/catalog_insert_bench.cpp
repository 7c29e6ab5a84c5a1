// Catalog insert benchmark: synthetic block rows through the real WriteBatch API into a fresh
// catalog, in one growing run. Reports, at 10^6, 10^7, 10^8 ... rows, the insert rate over the
// last 10^6 rows and the catalog size per block row (db + WAL after a checkpoint), and times
// the duplicate-block query at one scale (full sort, and the nightly probe after a 1% increment).
//
//   rdd_bench_catalog --dir DIR [--max-rows N] [--query-at N] [--naive-digest-index]
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/catalog/write_batch.hpp"

namespace cat = rdd::catalog;
using clock_type = std::chrono::steady_clock;

namespace {

struct Args {
    std::filesystem::path dir;
    std::uint64_t max_rows = 100'000'000;
    std::vector<std::uint64_t> query_at{10'000'000};
    double dup_share = 0.2;
    bool naive_index = false;
    std::vector<std::string> pragmas;  // experiments, e.g. "wal_autocheckpoint = 10000"
    std::size_t in_flight = 1;          // files open at once, fed one block at a time in turn
    bool sequential_inodes = false;     // as btrfs tree search / XFS bulkstat deliver them
};

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: rdd_bench_catalog --dir DIR [--max-rows N] [--query-at N[,N...] (0: none)] "
                 "[--dup-share F] [--in-flight N] [--sequential-inodes] [--naive-digest-index]\n"
                 "       [--pragma 'name = value']...\n");
    std::exit(2);
}

// "1e7,1e8" -> {10000000, 100000000}; "0" -> none.
std::vector<std::uint64_t> parse_list(const std::string& text) {
    std::vector<std::uint64_t> out;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const std::size_t comma = std::min(text.find(',', pos), text.size());
        const auto n = static_cast<std::uint64_t>(std::stod(text.substr(pos, comma - pos)));
        if (n != 0) out.push_back(n);
        pos = comma + 1;
    }
    return out;
}

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (arg == "--dir") a.dir = value();
        else if (arg == "--max-rows") a.max_rows = static_cast<std::uint64_t>(std::stod(value()));
        else if (arg == "--query-at") a.query_at = parse_list(value());
        else if (arg == "--dup-share") a.dup_share = std::stod(value());
        else if (arg == "--naive-digest-index") a.naive_index = true;
        else if (arg == "--pragma") a.pragmas.push_back(value());
        else if (arg == "--in-flight") a.in_flight = std::max<std::size_t>(1, std::stoul(value()));
        else if (arg == "--sequential-inodes") a.sequential_inodes = true;
        else usage();
    }
    if (a.dir.empty()) usage();
    return a;
}

// User + system CPU time of the process: separates our cost from waiting (I/O, other load).
double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    const auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

double seconds_since(clock_type::time_point t) {
    return std::chrono::duration<double>(clock_type::now() - t).count();
}

// Files of ~256 blocks; the duplicates come in runs of 16 blocks copied from a uniform sample
// (reservoir) of everything written before, as copied and grown files do.
class Generator {
public:
    Generator(double dup_share, std::uint32_t block_size, bool sequential_inodes)
        : dup_share_(dup_share), block_size_(block_size), sequential_inodes_(sequential_inodes) {}

    cat::FileRecord next_file(cat::VolumeId volume, std::vector<cat::Block>& blocks) {
        const std::uint64_t n = 128 + rng_() % 257;  // 128..384, mean 256
        blocks.clear();
        for (std::uint64_t chunk = 0; chunk < n; chunk += kRun) {
            const std::uint64_t len = std::min<std::uint64_t>(kRun, n - chunk);
            const bool dup = !reservoir_.empty() && unit_(rng_) < dup_share_;
            const std::size_t src = dup ? rng_() % reservoir_.size() : 0;
            std::array<cat::Digest, kRun> run{};
            for (std::uint64_t i = 0; i < len; ++i) {
                run[i] = dup ? reservoir_[src][i] : cat::Digest{rng_(), rng_()};
                blocks.push_back(cat::Block{chunk + i, run[i], physical_, false});
                physical_ += block_size_;
            }
            if (!dup && len == kRun) remember(run);
        }
        ++files_;
        cat::FileRecord f;
        // By default inode numbers arrive unordered, as from a directory walk (odd multiplier: a
        // bijection mod 2^40, so they stay unique): the identity index takes random inserts.
        const std::uint64_t ino = sequential_inodes_ ? 256 + files_ : (files_ * 2654435761ULL) & ((1ULL << 40) - 1);
        f.identity = cat::FileIdentity{256, ino, 1};
        f.volume = volume;
        f.size = n * block_size_;
        f.mtime_ns = 1'700'000'000'000'000'000LL + static_cast<std::int64_t>(rng_() % 1'000'000'000'000ULL);
        f.ctime_ns = f.mtime_ns;
        f.content_digest = cat::Digest{rng_(), rng_()};
        f.path = "host" + std::to_string(files_ % 7) + "/daily." + std::to_string(files_ % 30) + "/srv/data/dir" +
                 std::to_string(files_ / 1000) + "/file" + std::to_string(files_) + ".bin";
        f.state = cat::FileState::hashed;
        return f;
    }

private:
    static constexpr std::uint64_t kRun = 16;
    static constexpr std::size_t kReservoir = 1 << 16;

    void remember(const std::array<cat::Digest, kRun>& run) {
        ++runs_seen_;
        if (reservoir_.size() < kReservoir) {
            reservoir_.push_back(run);
        } else if (const auto slot = rng_() % runs_seen_; slot < kReservoir) {
            reservoir_[slot] = run;
        }
    }

    double dup_share_;
    std::uint32_t block_size_;
    bool sequential_inodes_;
    std::mt19937_64 rng_{20240601};
    std::uniform_real_distribution<double> unit_{0.0, 1.0};
    std::vector<std::array<cat::Digest, kRun>> reservoir_;
    std::uint64_t runs_seen_ = 0;
    std::uint64_t files_ = 0;
    std::uint64_t physical_ = std::uint64_t{1} << 36;
};

struct QueryResult {
    double seconds = 0;
    std::uint64_t groups = 0;
    std::uint64_t occurrences = 0;
};

QueryResult time_query(const cat::Catalog& c, const cat::DuplicateBlockQuery& q) {
    QueryResult r;
    const auto t0 = clock_type::now();
    c.for_each_duplicate_block_group(
        [&](const cat::Digest&, std::span<const cat::BlockOccurrence> occ) {
            ++r.groups;
            r.occurrences += occ.size();
            return true;
        },
        q);
    r.seconds = seconds_since(t0);
    return r;
}

// Writes files through the batch: one put_file() each, or (in_flight > 1) like a hasher
// pipeline: N files open, their blocks arriving one at a time in turn, files ending in turn.
class Feeder {
public:
    Feeder(Generator& gen, cat::VolumeId volume, std::size_t in_flight)
        : gen_(gen), volume_(volume), in_flight_(in_flight) {}

    // Writes at least one block row; returns how many.
    std::uint64_t step(cat::WriteBatch& batch) {
        if (in_flight_ <= 1) {
            // Two statements: the blocks must be generated before the span over them is taken.
            const cat::FileRecord record = gen_.next_file(volume_, blocks_);
            (void)batch.put_file(record, blocks_);
            return blocks_.size();
        }
        while (open_.size() < in_flight_) {
            Open f;
            const cat::FileRecord r = gen_.next_file(volume_, f.blocks);
            f.id = batch.begin_file(r);
            open_.push_back(std::move(f));
        }
        std::uint64_t rows = 0;
        for (auto& f : open_) {
            if (f.next < f.blocks.size()) {
                batch.add_blocks(f.id, std::span(&f.blocks[f.next++], 1));
                ++rows;
            }
        }
        for (auto it = open_.begin(); it != open_.end();) {
            if (it->next == it->blocks.size()) {
                batch.end_file(it->id);
                it = open_.erase(it);
            } else {
                ++it;
            }
        }
        return rows;
    }

    // Ends the files still open (before a commit that must leave none half-written).
    void drain(cat::WriteBatch& batch) {
        for (auto& f : open_) {
            batch.add_blocks(f.id, std::span(f.blocks).subspan(f.next));
            batch.end_file(f.id);
        }
        open_.clear();
    }

private:
    struct Open {
        cat::FileId id = 0;
        std::vector<cat::Block> blocks;
        std::size_t next = 0;
    };
    Generator& gen_;
    cat::VolumeId volume_;
    std::size_t in_flight_;
    std::vector<cat::Block> blocks_;
    std::vector<Open> open_;
};

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse(argc, argv);
    const auto db_path = args.dir / "bench.sqlite";
    std::filesystem::remove(db_path);
    std::filesystem::remove(db_path.string() + "-wal");
    std::filesystem::remove(db_path.string() + "-shm");

    constexpr std::uint32_t kBlockSize = 128 * 1024;
    cat::OpenOptions opts;
    opts.block_size = kBlockSize;
    cat::Catalog catalog = cat::Catalog::open_writer(db_path, opts);
    if (args.naive_index) catalog.connection().exec("CREATE INDEX block_by_digest ON block(digest)");
    for (const auto& p : args.pragmas) {
        catalog.connection().exec("PRAGMA " + p);
        std::printf("PRAGMA %s\n", p.c_str());
    }
    const cat::VolumeId volume = catalog.add_volume(256, "/mnt/backup");
    cat::Epoch epoch = catalog.begin_pass(volume);

    std::printf("catalog insert benchmark: %s, dup share %.0f%%, %zu file(s) in flight, %s inodes%s\n",
                db_path.c_str(), args.dup_share * 100, args.in_flight,
                args.sequential_inodes ? "ascending" : "unordered", args.naive_index ? ", NAIVE digest index" : "");
    std::printf("%12s %14s %12s %10s %12s %10s\n", "rows", "rows/s(1e6)", "cpu us/row", "bytes/row", "catalog MiB",
                "elapsed s");
    std::fflush(stdout);

    Generator gen(args.dup_share, kBlockSize, args.sequential_inodes);
    Feeder feeder(gen, volume, args.in_flight);
    auto batch = std::make_unique<cat::WriteBatch>(catalog, epoch);
    const auto start = clock_type::now();
    std::uint64_t rows = 0;
    std::uint64_t next_point = 1'000'000;
    clock_type::time_point window_start = start;
    std::uint64_t window_rows = 0;
    double window_cpu = cpu_seconds();
    bool window_open = true;  // the first window starts at row 0
    struct QueryPoint {
        std::uint64_t rows = 0;
        QueryResult sort;
        std::uint64_t increment_rows = 0;
        QueryResult probe;
        QueryResult sort_since;
    };
    std::vector<QueryPoint> queries;

    while (rows < args.max_rows) {
        if (!window_open && rows + 1'000'000 >= next_point) {
            window_start = clock_type::now();
            window_rows = rows;
            window_cpu = cpu_seconds();
            window_open = true;
        }
        rows += feeder.step(*batch);
        if (rows >= next_point) {
            const double window_s = seconds_since(window_start);
            const double window_rows_done = static_cast<double>(rows - window_rows);
            const double cpu_us = (cpu_seconds() - window_cpu) * 1e6 / window_rows_done;
            batch->commit();
            catalog.checkpoint();
            const auto st = catalog.stats();
            const double bytes = static_cast<double>(st.db_bytes + st.wal_bytes);
            std::printf("%12llu %14.0f %12.3f %10.1f %12.1f %10.0f\n", static_cast<unsigned long long>(rows),
                        window_rows_done / window_s, cpu_us, bytes / static_cast<double>(st.block_rows), bytes / 1048576.0,
                        seconds_since(start));
            std::fflush(stdout);
            if (std::find(args.query_at.begin(), args.query_at.end(), next_point) != args.query_at.end()) {
                feeder.drain(*batch);
                batch->commit();
                QueryPoint qp;
                qp.rows = rows;
                qp.sort = time_query(catalog, {});
                // A nightly increment: a new pass adds 1% of rows, then only its groups are asked for.
                batch.reset();
                epoch = catalog.begin_pass(volume);
                batch = std::make_unique<cat::WriteBatch>(catalog, epoch);
                const std::uint64_t target = rows + rows / 100;
                while (rows < target) {
                    const std::uint64_t n = feeder.step(*batch);
                    rows += n;
                    qp.increment_rows += n;
                }
                feeder.drain(*batch);
                batch->commit();
                cat::DuplicateBlockQuery q;
                q.changed_since = epoch;
                q.method = cat::DuplicateBlockQuery::Method::probe;
                qp.probe = time_query(catalog, q);
                q.method = cat::DuplicateBlockQuery::Method::sort;
                qp.sort_since = time_query(catalog, q);
                queries.push_back(qp);
            }
            next_point *= 10;
            window_open = false;
        }
    }
    feeder.drain(*batch);
    batch->commit();

    for (const auto& q : queries) {
        std::printf("duplicate-block query at %llu rows, full sort: %.1f s (%llu groups, %llu occurrences)\n",
                    static_cast<unsigned long long>(q.rows), q.sort.seconds,
                    static_cast<unsigned long long>(q.sort.groups), static_cast<unsigned long long>(q.sort.occurrences));
        std::printf("  nightly, after +%llu rows: probe %.1f s, sort %.1f s (%llu groups, %llu occurrences)\n",
                    static_cast<unsigned long long>(q.increment_rows), q.probe.seconds, q.sort_since.seconds,
                    static_cast<unsigned long long>(q.probe.groups),
                    static_cast<unsigned long long>(q.probe.occurrences));
        if (q.probe.groups != q.sort_since.groups || q.probe.occurrences != q.sort_since.occurrences) {
            std::printf("  MISMATCH between probe and sort\n");
            return 1;
        }
    }
    return 0;
}
