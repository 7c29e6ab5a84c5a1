// Races (issue 8): dedup-vol runs while writer threads append to, overwrite, truncate, rename,
// delete, replace and create catalogued files and an `rsync -a --delete --link-dest` writes a
// new day into the volume, on btrfs and XFS, with --lock=lease and --lock=immutable. The test
// keeps its own model of what each file's last writer wrote (each file has one writer thread)
// and checks afterwards: every file holds exactly that, no file or directory is left frozen, the
// catalog passes PRAGMA integrity_check, and a last dedup-vol exits 0 with the catalog matching
// the volume and every remaining whole-file duplicate fully shared (FIEMAP).
//
// Environment: RDD_RELIABILITY_SCALE (default 1) multiplies the race rounds per case;
// RDD_RELIABILITY_SEED replays a run (the seed is printed).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/cli_runner.hpp"
#include "race_crash_support.hpp"
#include "support/file_checks.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::test {
namespace {

using namespace reliability;
using Clock = std::chrono::steady_clock;
constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = kKiB * kKiB;
constexpr int kWorkers = 3;
constexpr std::size_t kMaxFile = 3 * kMiB;  // appends stop growing a file past this
constexpr int kMaxOpsPerRound = 250;         // per writer

// One writer thread: owns some files (path relative to the mount -> expected content).
struct Worker {
    int id = 0;
    std::map<fs::path, std::string> files;
    std::mt19937_64 rng;
    int ops = 0, refused = 0, next_name = 0;
    double max_open_wait = 0;  // a read lease delays a writer's open until dedup-vol lets go
};

class Race : public LoopFsTest {
protected:
    fs::path db() { return fs().temp_dir() / "catalog.sqlite"; }
    fs::path staging() { return fs().temp_dir() / "staging"; }
    fs::path root() { return fs().mount_point(); }

    std::vector<std::string> dedup_args(const std::string& lock) {
        return {"dedup-vol", "--json", "--lock=" + lock, "--db", db().string(), "--state-dir",
                (fs().temp_dir() / "state").string(), root().string()};
    }

    // Writes the initial dataset: whole-file copies, grown, edited and cut copies of a few
    // random bases under live/ (owned by the writers), and a static backup day under day1/.
    void make_dataset(std::mt19937_64& rng) {
        std::vector<std::string> bases;
        for (std::size_t n : {512 * kKiB, 768 * kKiB, 1 * kMiB, 1 * kMiB + 4097, 1536 * kKiB, 2 * kMiB})
            bases.push_back(random_bytes(rng, n));
        for (int d = 0; d < 3; ++d) fs::create_directories(path("live/d" + std::to_string(d)));
        for (int i = 0; i < 30; ++i) {
            std::string c = bases[static_cast<std::size_t>(i) % bases.size()];
            switch (i / 6) {
                case 1: c += random_bytes(rng, 100 * kKiB + 123); break;             // grown log
                case 2: c.replace(64 * kKiB, 4 * kKiB, random_bytes(rng, 4 * kKiB)); break;  // one block edited
                case 3: c.resize(c.size() / 2 + 1000); break;                         // cut copy
                default: break;                                                       // whole copy
            }
            const fs::path rel = "live/d" + std::to_string(i % 3) + "/f" + std::to_string(i);
            write_new(path(rel), c);
            workers_[static_cast<std::size_t>(i % kWorkers)].files[rel] = c;
        }
        fs::create_directories(staging());
        for (int i = 0; i < 10; ++i) {
            write_new(staging() / ("b" + std::to_string(i)), bases[static_cast<std::size_t>(i) % bases.size()]);
        }
        run_checked({"rsync", "-a", staging().string() + "/", path("day1").string() + "/"});
    }

    // The next night's source: two files changed, one new (a duplicate), one gone. The target
    // day exists half written (stale files for --delete, one file that differs).
    void prepare_day(std::mt19937_64& rng, int day) {
        const auto names = regular_files(staging());
        write_new(staging() / names[rng() % names.size()], random_bytes(rng, 300 * kKiB));
        write_new(staging() / names[rng() % names.size()], random_bytes(rng, 200 * kKiB + 7));
        fs::copy_file(staging() / names[rng() % names.size()], staging() / ("new" + std::to_string(day)),
                      fs::copy_options::overwrite_existing);
        fs::remove(staging() / names[rng() % names.size()]);
        const fs::path target = path("day" + std::to_string(day));
        fs::create_directories(target);
        write_new(target / "stale-a", random_bytes(rng, 100 * kKiB));
        write_new(target / "stale-b", random_bytes(rng, 70 * kKiB));
        write_new(target / regular_files(staging()).front(), random_bytes(rng, 90 * kKiB));
    }

    std::vector<Worker> workers_{static_cast<std::size_t>(kWorkers)};
    std::map<fs::path, std::string> days_;  // day*/ files: what rsync copied (static afterwards)
};

// Writes data at `off` (or appends when off < 0) through fd; returns bytes written. Stops at the
// first error (errno kept): a refused write changes nothing, a short one only its prefix.
std::size_t write_some(int fd, const std::string& data, long off) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = off < 0 ? ::write(fd, data.data() + done, data.size() - done)
                                  : ::pwrite(fd, data.data() + done, data.size() - done,
                                             off + static_cast<long>(done));
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

// One random operation on one of the worker's files. `immutable`: EPERM is a refusal (the file
// is frozen), to be expected and counted; any other failure fails the test.
void random_op(Worker& w, const fs::path& root, bool immutable) {
    if (w.files.empty()) return;
    auto it = std::next(w.files.begin(), static_cast<long>(w.rng() % w.files.size()));
    const fs::path rel = it->first;
    std::string& content = it->second;
    const fs::path p = root / rel;
    auto other_content = [&]() -> const std::string& {
        return std::next(w.files.begin(), static_cast<long>(w.rng() % w.files.size()))->second;
    };
    auto fresh_name = [&] {
        return fs::path("live/d" + std::to_string(w.rng() % 3)) /
               ("w" + std::to_string(w.id) + "-" + std::to_string(w.next_name++));
    };
    auto failed = [&](const char* what) {
        if (immutable && errno == EPERM) {
            ++w.refused;
        } else {
            ADD_FAILURE() << what << " " << p << ": " << std::strerror(errno);
        }
    };
    auto open_w = [&](int flags) {
        const auto t0 = Clock::now();
        const int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC | flags);
        w.max_open_wait = std::max(w.max_open_wait, seconds_since(t0));
        if (fd < 0) failed("open");
        return fd;
    };
    ++w.ops;
    switch (w.rng() % 7) {
        case 0: {  // append random bytes or a block-aligned piece of another file (a partial duplicate)
            if (content.size() > kMaxFile) break;
            const std::string& o = other_content();
            const std::string data = w.rng() % 2 ? random_bytes(w.rng, w.rng() % (200 * kKiB) + 1)
                                                 : o.substr(0, std::min(o.size(), 256 * kKiB));
            const int fd = open_w(O_APPEND);
            if (fd < 0) break;
            const std::size_t n = write_some(fd, data, -1);
            if (n < data.size()) failed("append");
            content += data.substr(0, n);
            ::close(fd);
            break;
        }
        case 1: {  // overwrite a range, block-aligned or not
            std::size_t off = w.rng() % (content.size() + 1);
            if (w.rng() % 2) off &= ~(4 * kKiB - 1);
            const std::string data = random_bytes(w.rng, w.rng() % (128 * kKiB) + 1);
            const int fd = open_w(0);
            if (fd < 0) break;
            const std::size_t n = write_some(fd, data, static_cast<long>(off));
            if (n < data.size()) failed("pwrite");
            if (off + n > content.size()) content.resize(off + n);
            content.replace(off, n, data, 0, n);
            ::close(fd);
            break;
        }
        case 2: {  // truncate to a shorter size (longer would add zeros, which dedup-vol makes holes)
            const std::size_t size = content.size() / 2 + w.rng() % (content.size() / 2 + 1);
            const int fd = open_w(0);
            if (fd < 0) break;
            if (::ftruncate(fd, static_cast<off_t>(size)) != 0) failed("ftruncate");
            else content.resize(size);
            ::close(fd);
            break;
        }
        case 3: {  // rename, possibly into another directory
            const fs::path to = fresh_name();
            if (::rename(p.c_str(), (root / to).c_str()) != 0) {
                failed("rename");
                break;
            }
            auto node = w.files.extract(it);
            node.key() = to;
            w.files.insert(std::move(node));
            break;
        }
        case 4: {  // delete (keep a few files to work on)
            if (w.files.size() < 4) break;
            if (::unlink(p.c_str()) != 0) failed("unlink");
            else w.files.erase(it);
            break;
        }
        case 5: {  // replace: a new file renamed over it, a copy of another file or new data
            const std::string data = w.rng() % 2 ? other_content() : random_bytes(w.rng, w.rng() % kMiB + 8 * kKiB);
            const fs::path tmp = p.parent_path() / (".tmp-w" + std::to_string(w.id));
            write_new(tmp, data);
            if (::rename(tmp.c_str(), p.c_str()) != 0) {
                failed("rename over");
                fs::remove(tmp);
            } else {
                content = data;
            }
            break;
        }
        default: {  // create a new duplicate of another file
            const fs::path to = fresh_name();
            const std::string data = other_content();
            write_new(root / to, data);
            w.files[to] = data;
            break;
        }
    }
}

// Every regular file holds what the model says, and no other file exists.
void expect_volume_matches(const fs::path& root, const std::map<fs::path, std::string>& model, const std::string& when) {
    std::set<fs::path> on_disk;
    for (const fs::path& rel : regular_files(root)) on_disk.insert(rel);
    std::set<fs::path> expected;
    for (const auto& [rel, content] : model) expected.insert(rel);
    EXPECT_EQ(on_disk, expected) << "files in the volume " << when;
    int wrong = 0;
    for (const auto& [rel, content] : model) {
        if (!on_disk.contains(rel)) continue;
        const std::string now = read_all(root / rel);
        if (now != content && ++wrong <= 5) {
            ADD_FAILURE() << rel << " differs from its last writer's content " << when << ": size "
                          << now.size() << " expected " << content.size();
        }
    }
    EXPECT_EQ(wrong, 0) << when;
}

TEST_P(Race, WritersAndRsyncDuringDedupVol) {
    const int rounds = 2 * scale();
    const std::uint64_t s = seed("Race");
    std::mt19937_64 rng(s);
    for (int i = 0; i < kWorkers; ++i) {
        workers_[static_cast<std::size_t>(i)].id = i;
        workers_[static_cast<std::size_t>(i)].rng.seed(s + 1 + static_cast<std::uint64_t>(i));
    }
    make_dataset(rng);
    for (const fs::path& rel : regular_files(staging())) days_["day1" / rel] = read_all(staging() / rel);
    const CliRun scan = run_reflinkdedup({"scan-vol", "--json", "--db", db().string(), root().string()});
    ASSERT_EQ(scan.process.exit_code, 0) << describe(scan);

    int day = 1;
    for (const std::string lock : {"lease", "immutable"}) {
        for (int round = 0; round < rounds; ++round) {
            ++day;
            const std::string when = "(" + lock + " round " + std::to_string(round) + ")";
            prepare_day(rng, day);
            for (auto& w : workers_) w.ops = w.refused = 0;
            // Start dedup-vol, the writers and the rsync together; the writers go on until dedup-vol ends.
            std::atomic<bool> stop{false};
            std::atomic<int> ops_during{0};
            double dedup_seconds = 0;
            auto dedup = std::async(std::launch::async, [&] {
                const auto t0 = Clock::now();
                CliRun r = run_reflinkdedup(dedup_args(lock));
                dedup_seconds = seconds_since(t0);
                stop = true;
                return r;
            });
            const std::string link_dest = "--link-dest=" + path("day" + std::to_string(day - 1)).string();
            const std::vector<std::string> rsync{"rsync", "-a", "--delete", link_dest, staging().string() + "/",
                                                 path("day" + std::to_string(day)).string() + "/"};
            auto rsynced = std::async(std::launch::async, [&] { return run_process(rsync); });
            std::vector<std::thread> threads;
            for (auto& w : workers_) {
                threads.emplace_back([&, wp = &w] {
                    try {
                        // Bounded, so a slow (sanitized) dedup-vol does not meet ever more data.
                        while (!stop && wp->ops < kMaxOpsPerRound) {
                            random_op(*wp, root(), lock == "immutable");
                            if (!stop) ++ops_during;
                            std::this_thread::sleep_for(std::chrono::microseconds(1000 + wp->rng() % 3000));
                        }
                    } catch (const std::exception& e) {
                        ADD_FAILURE() << "writer " << wp->id << ": " << e.what();
                    }
                });
            }
            const CliRun r = dedup.get();
            for (auto& t : threads) t.join();
            ProcessResult rs = rsynced.get();
            if (lock == "immutable" && rs.exit_code != 0) {
                // Frozen files refuse links, renames and deletes: rsync says so (23); again now.
                EXPECT_EQ(rs.exit_code, 23) << rs.err;
                rs = run_process(rsync);
            }
            ASSERT_EQ(rs.exit_code, 0) << rs.err << when;
            for (const fs::path& rel : regular_files(staging())) {
                days_[fs::path("day" + std::to_string(day)) / rel] = read_all(staging() / rel);
            }

            ASSERT_TRUE(r.process.exit_code == 0 || r.process.exit_code == 1) << describe(r) << when;
            int refused = 0;
            double max_wait = 0;
            for (const auto& w : workers_) {
                refused += w.refused;
                max_wait = std::max(max_wait, w.max_open_wait);
            }
            std::cout << "[ race     ] " << fs().kind() << " " << when << ": dedup-vol exit " << r.process.exit_code
                      << " after " << dedup_seconds << " s, " << ops_during << " writes during the run (" << refused << " refused), shared "
                      << r.json.value("bytes_shared", 0) << ", changed " << r.json.value("bytes_changed", 0)
                      << ", skipped " << r.json.value("skipped_count", 0) << ", longest open " << max_wait << " s\n";
            std::map<std::string, int> reasons;  // why files were left alone, for the log
            for (const auto& sk : r.json.value("skipped", nlohmann::json::array())) {
                std::string reason = sk.value("reason", "").substr(0, 100);
                std::replace_if(reason.begin(), reason.end(), [](char c) { return c >= '0' && c <= '9'; }, '#');
                ++reasons[reason];
            }
            for (const auto& [reason, n] : reasons) std::cout << "               skipped " << n << "x: " << reason << "\n";
            EXPECT_GE(ops_during.load(), kWorkers) << "the writers did not race dedup-vol " << when;
            // Leases: a writer waits only until dedup-vol notices, far below lease-break-time (45 s).
            EXPECT_LT(max_wait, 5.0) << when;

            std::map<fs::path, std::string> model = days_;
            for (const auto& w : workers_) model.insert(w.files.begin(), w.files.end());
            expect_volume_matches(root(), model, when);
            expect_nothing_frozen(root(), when);
            expect_catalog_intact(db(), when);
        }
    }

    // A quiet run afterwards: exit 0, the catalog is the volume, whole-file duplicates are shared.
    const CliRun last = run_reflinkdedup(dedup_args("lease"));
    ASSERT_EQ(last.process.exit_code, 0) << describe(last);
    std::map<fs::path, std::string> model = days_;
    for (const auto& w : workers_) model.insert(w.files.begin(), w.files.end());
    expect_volume_matches(root(), model, "after the last run");
    expect_nothing_frozen(root(), "after the last run");
    expect_catalog_matches(db(), root(), "after the last run");
    std::map<std::string, std::vector<fs::path>> by_content;
    for (const auto& [rel, content] : model) by_content[content].push_back(rel);
    int groups = 0;
    for (const auto& [content, rels] : by_content) {
        if (rels.size() < 2 || content.size() < 64 * kKiB) continue;
        ++groups;
        for (std::size_t i = 1; i < rels.size(); ++i) {
            EXPECT_EQ(bytes_shared_with(root() / rels[0], root() / rels[i]), content.size())
                << rels[0] << " and " << rels[i] << " are identical but not shared";
        }
    }
    EXPECT_GT(groups, 0);
}

RDD_INSTANTIATE_FOR_EACH_FS_KIND(Race);

}  // namespace
}  // namespace rdd::test
