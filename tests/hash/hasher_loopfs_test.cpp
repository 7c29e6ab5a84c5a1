// The hasher on real btrfs and XFS (loop devices, root): a few hundred files of awkward and
// ordinary sizes, both engines, against the independent computation.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <random>

#include "recording_sink.hpp"
#include "reference_digests.hpp"
#include "reflinkdedup/hash/hasher.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "support/file_checks.hpp"
#include "support/fs_kind_param.hpp"

namespace rdd::hash {
namespace {

namespace fs = std::filesystem;

using rdd::test::FsKind;

// One fresh filesystem per (fs kind, engine): "btrfs_io_uring", "xfs_pread", ...
class HasherOnLoopFs : public ::testing::TestWithParam<std::tuple<FsKind, EngineChoice>> {
protected:
    void SetUp() override {
        RDD_REQUIRE_LOOP_FS(kind());
        if (engine() == EngineChoice::IoUring) {
            test::RecordingSink probe;
            HasherOptions o;
            o.engine = engine();
            try {
                Hasher h(probe, o);
            } catch (const SysError& e) {
                GTEST_SKIP() << "io_uring unavailable here: " << e.what();
            }
        }
        fs_.emplace(kind());
    }
    void TearDown() override { fs_.reset(); }

    [[nodiscard]] FsKind kind() const { return std::get<0>(GetParam()); }
    [[nodiscard]] EngineChoice engine() const { return std::get<1>(GetParam()); }
    [[nodiscard]] fs::path path(const fs::path& relative) const { return fs_->path(relative); }

    std::optional<rdd::test::LoopFilesystem> fs_;
};

// Drops the files' cached pages so the hasher's reads go to the (loop) device.
void drop_cached_pages(const std::vector<fs::path>& paths) {
    for (const auto& p : paths) {
        UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd) (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
    }
}

std::vector<std::uint64_t> dataset_sizes() {
    std::vector<std::uint64_t> sizes{0, 1, 4095, 4096, 4097, 65535, 65536, 131071, 131072,
                                     131073, (1u << 20) + 1, 40u << 20};
    std::mt19937_64 rng(42);
    while (sizes.size() < 300) {
        const std::uint64_t r = rng();
        // Mostly small files, some up to 2 MiB.
        sizes.push_back(r % 8 == 0 ? r % (2u << 20) : r % (96 * 1024));
    }
    return sizes;
}

// Bytes of the file in the page cache (mincore over a mapping).
std::uint64_t resident_bytes(const fs::path& p) {
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open", p.string());
    const auto size = static_cast<std::size_t>(fs::file_size(p));
    if (size == 0) return 0;
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (map == MAP_FAILED) throw_errno("mmap", p.string());
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> vec((size + page - 1) / page);
    const int rc = ::mincore(map, size, vec.data());
    ::munmap(map, size);
    if (rc != 0) throw_errno("mincore", p.string());
    std::uint64_t pages = 0;
    for (unsigned char v : vec) pages += v & 1;
    return pages * page;
}

TEST_P(HasherOnLoopFs, ManyFilesMatchTheIndependentDigests) {
    const std::vector<std::uint64_t> sizes = dataset_sizes();
    std::vector<fs::path> paths;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        paths.push_back(path("d" + std::to_string(i % 7)) / ("f" + std::to_string(i)));
        fs::create_directories(paths.back().parent_path());
        rdd::test::write_random_file(paths.back(), sizes[i], 1000 + i);
    }
    // A file with zero blocks and a hole, so is_zero is exercised on the real fs too.
    const fs::path holes = path("holes");
    rdd::test::write_random_file(holes, 300 * 1024, 7);
    fs::resize_file(holes, 2u << 20);
    paths.push_back(holes);
    fs_->sync();

    const std::uint32_t block = 128 * 1024;
    std::vector<test::ReferenceDigests> refs;
    for (const auto& p : paths) refs.push_back(test::reference_digests(p, block));

    drop_cached_pages(paths);

    HasherOptions o;
    o.engine = engine();
    o.block_size = block;
    o.drop_cache = true;  // not the default; checked below
    test::RecordingSink sink;
    {
        Hasher h(sink, o);
        ASSERT_EQ(h.engine(), engine() == EngineChoice::IoUring ? EngineKind::IoUring : EngineKind::Pread);
        for (std::size_t i = 0; i < paths.size(); ++i) {
            UniqueFd fd(::open(paths[i].c_str(), O_RDONLY | O_CLOEXEC));
            ASSERT_TRUE(fd) << paths[i];
            FileJob j;
            j.fd = std::move(fd);
            j.size = refs[i].size;
            j.token = i;
            h.submit(std::move(j));
        }
        h.finish();
    }
    ASSERT_EQ(sink.done_count, paths.size());
    for (std::size_t i = 0; i < paths.size(); ++i) {
        SCOPED_TRACE(paths[i].string());
        const test::RecordedFile& f = sink.files[i];
        ASSERT_TRUE(f.done);
        ASSERT_FALSE(f.done->error) << f.done->error->message;
        EXPECT_EQ(f.done->bytes_read, refs[i].size);
        ASSERT_TRUE(f.done->whole);
        EXPECT_EQ(*f.done->whole, refs[i].whole);
        ASSERT_EQ(f.blocks.size(), refs[i].blocks.size());
        for (std::size_t b = 0; b < f.blocks.size(); ++b) {
            EXPECT_EQ(f.blocks[b].index, b);
            EXPECT_EQ(f.blocks[b].digest, refs[i].blocks[b]) << "block " << b;
            EXPECT_EQ(f.blocks[b].is_zero, refs[i].zero[b]) << "block " << b;
        }
    }
    std::size_t zero_blocks = 0;
    for (const auto& b : sink.files[paths.size() - 1].blocks) zero_blocks += b.is_zero ? 1 : 0;
    EXPECT_EQ(zero_blocks, 13u);  // 2 MiB in 128 KiB blocks, data only in the first 300 KiB

    // drop_cache: what was read is no longer cached (a little slack for pages the kernel
    // could not drop at that instant).
    const fs::path& big = paths[11];
    ASSERT_EQ(fs::file_size(big), 40u << 20);
    EXPECT_LT(resident_bytes(big), 4u << 20);
}

INSTANTIATE_TEST_SUITE_P(
    , HasherOnLoopFs,
    ::testing::Combine(::testing::ValuesIn(rdd::test::kAllFsKinds),
                       ::testing::Values(EngineChoice::IoUring, EngineChoice::Pread)),
    [](const ::testing::TestParamInfo<std::tuple<FsKind, EngineChoice>>& p) {
        return std::string(to_string(std::get<0>(p.param))) +
               (std::get<1>(p.param) == EngineChoice::IoUring ? "_io_uring" : "_pread");
    });

}  // namespace
}  // namespace rdd::hash
