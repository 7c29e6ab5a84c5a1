// The hasher against an independent computation, on small files in a temp dir (any fs),
// once per read engine.
#include "reflinkdedup/hash/hasher.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>

#include "recording_sink.hpp"
#include "reference_digests.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "support/file_checks.hpp"
#include "support/loop_filesystem.hpp"

namespace rdd::hash {
namespace {

namespace fs = std::filesystem;
using test::RecordedFile;
using test::RecordingSink;

constexpr std::uint32_t kPage = 4096;

FileJob job_for(const fs::path& path, std::uint64_t token, std::vector<BlockRange> skip = {},
                std::optional<std::uint64_t> size = std::nullopt) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open", path.string());
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("fstat", path.string());
    FileJob j;
    j.fd = std::move(fd);
    j.size = size.value_or(static_cast<std::uint64_t>(st.st_size));
    j.token = token;
    j.skip = std::move(skip);
    return j;
}

void write_bytes(const fs::path& path, const std::vector<char>& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Every block and the whole digest equal the reference; nothing was skipped.
void expect_matches_reference(const RecordedFile& got, const fs::path& path, std::uint32_t block) {
    SCOPED_TRACE(path.string());
    const test::ReferenceDigests ref = test::reference_digests(path, block);
    ASSERT_TRUE(got.done);
    EXPECT_FALSE(got.done->error) << got.done->error->message;
    EXPECT_TRUE(got.fd_returned);
    EXPECT_EQ(got.done->bytes_read, ref.size);
    ASSERT_TRUE(got.done->whole);
    EXPECT_EQ(*got.done->whole, ref.whole);
    ASSERT_EQ(got.blocks.size(), ref.blocks.size());
    for (std::size_t i = 0; i < ref.blocks.size(); ++i) {
        EXPECT_EQ(got.blocks[i].index, i);
        EXPECT_EQ(got.blocks[i].digest, ref.blocks[i]) << "block " << i;
        EXPECT_EQ(got.blocks[i].is_zero, ref.zero[i]) << "block " << i;
        const std::uint64_t len = std::min<std::uint64_t>(block, ref.size - i * block);
        EXPECT_EQ(got.blocks[i].length, len) << "block " << i;
    }
}

class HasherTest : public ::testing::TestWithParam<EngineChoice> {
protected:
    void SetUp() override {
        if (GetParam() == EngineChoice::IoUring) {
            RecordingSink probe;
            try {
                Hasher h(probe, options());
            } catch (const SysError& e) {
                GTEST_SKIP() << "io_uring unavailable here: " << e.what();
            }
        }
        dir_.emplace(rdd::test::test_tmp_base());
    }

    [[nodiscard]] HasherOptions options(std::uint32_t block = kPage) const {
        HasherOptions o;
        o.engine = GetParam();
        o.block_size = block;
        return o;
    }
    [[nodiscard]] fs::path file(const std::string& name) const { return dir_->path() / name; }
    fs::path random_file(const std::string& name, std::uint64_t size, std::uint64_t seed) {
        const fs::path p = file(name);
        rdd::test::write_random_file(p, size, seed);
        return p;
    }

    std::optional<rdd::test::TempDir> dir_;
};

TEST_P(HasherTest, ReportsTheEngineItWasAskedFor) {
    RecordingSink sink;
    Hasher h(sink, options());
    if (GetParam() == EngineChoice::IoUring) {
        EXPECT_EQ(h.engine(), EngineKind::IoUring);
        EXPECT_EQ(h.engine_note(), "");
    } else {
        EXPECT_EQ(h.engine(), EngineKind::Pread);
        EXPECT_NE(h.engine_note(), "");
    }
}

TEST_P(HasherTest, SizesAroundBlockAndReadBoundaries) {
    HasherOptions o = options(kPage);
    o.read_size = 4 * kPage;  // several reads per file, blocks split over reads
    const std::vector<std::uint64_t> sizes{0, 1, 4095, 4096, 4097, 8191, 16384, 16385, 100000, (1u << 20) + 1};
    RecordingSink sink;
    std::vector<fs::path> paths;
    {
        Hasher h(sink, o);
        for (std::size_t i = 0; i < sizes.size(); ++i) {
            paths.push_back(random_file("f" + std::to_string(i), sizes[i], i + 1));
            h.submit(job_for(paths.back(), i));
        }
        h.finish();
    }
    ASSERT_EQ(sink.done_count, sizes.size());
    for (std::size_t i = 0; i < sizes.size(); ++i) expect_matches_reference(sink.files[i], paths[i], kPage);
    EXPECT_TRUE(sink.files[0].blocks.empty());
    EXPECT_EQ(*sink.files[0].done->whole, digest_of({}));
}

TEST_P(HasherTest, BlockSizesLargerThanAPageAndNotDividingTheReadSize) {
    for (const std::uint32_t block : {3 * kPage, 16 * kPage, 32 * kPage, 256 * kPage}) {
        SCOPED_TRACE(block);
        HasherOptions o = options(block);
        o.read_size = 8 * kPage;  // 12 KiB blocks: 24 KiB reads; bigger blocks: one block per read
        const fs::path p = random_file("b" + std::to_string(block), 3 * block + 12345, block);
        RecordingSink sink;
        Hasher h(sink, o);
        h.submit(job_for(p, 7));
        h.finish();
        expect_matches_reference(sink.files[7], p, block);
    }
}

TEST_P(HasherTest, ZeroBlocksAreFlaggedAndStillCarryTheirRealDigest) {
    const std::uint32_t block = 4 * kPage;
    // All zeros with a partial last block; random with zero blocks inside; sparse with a hole.
    const fs::path zeros = file("zeros");
    write_bytes(zeros, std::vector<char>(10 * block + 100, 0));
    std::vector<char> mixed(8 * block + 5);
    std::mt19937 rng(5);
    for (auto& c : mixed) c = static_cast<char>(rng());
    std::fill(mixed.begin() + 2 * block, mixed.begin() + 4 * block, 0);
    std::fill(mixed.begin() + 8 * block, mixed.end(), 0);
    mixed[3 * block + 17] = 1;  // block 3 is zero but for one byte
    const fs::path mixed_path = file("mixed");
    write_bytes(mixed_path, mixed);
    const fs::path sparse = random_file("sparse", block, 9);
    fs::resize_file(sparse, 6 * block);

    RecordingSink sink;
    {
        Hasher h(sink, options(block));
        h.submit(job_for(zeros, 1));
        h.submit(job_for(mixed_path, 2));
        h.submit(job_for(sparse, 3));
        h.finish();
    }
    expect_matches_reference(sink.files[1], zeros, block);
    expect_matches_reference(sink.files[2], mixed_path, block);
    expect_matches_reference(sink.files[3], sparse, block);
    for (const auto& b : sink.files[1].blocks) EXPECT_TRUE(b.is_zero);
    const auto& m = sink.files[2].blocks;
    std::vector<bool> zero_flags;
    for (const auto& b : m) zero_flags.push_back(b.is_zero);
    EXPECT_EQ(zero_flags, (std::vector<bool>{false, false, true, false, false, false, false, false, true}));
    EXPECT_EQ(m[2].digest, sink.files[1].blocks[0].digest);  // same zero block, same digest
}

TEST_P(HasherTest, SkippedBlocksAreNotReadNorReported) {
    const std::uint32_t block = 2 * kPage;
    const std::uint64_t size = 20 * block + 300;  // 21 blocks, the last partial
    const fs::path p = random_file("skip", size, 11);
    RecordingSink sink;
    {
        HasherOptions o = options(block);
        o.read_size = 4 * block;
        Hasher h(sink, o);
        h.submit(job_for(p, 1, {{10, 1}, {2, 3}, {3, 1}, {20, 100}}));
        h.submit(job_for(p, 2, {{0, 1000}}));
        h.submit(job_for(p, 3, {{21, 5}}));  // only past EOF: nothing really skipped
        h.finish();
    }
    const test::ReferenceDigests ref = test::reference_digests(p, block);

    const RecordedFile& f = sink.files[1];
    ASSERT_TRUE(f.done);
    EXPECT_FALSE(f.done->error);
    EXPECT_FALSE(f.done->whole) << "whole digest needs every block";
    std::vector<std::uint64_t> indexes;
    for (const auto& b : f.blocks) {
        indexes.push_back(b.index);
        EXPECT_EQ(b.digest, ref.blocks[b.index]) << b.index;
    }
    EXPECT_EQ(indexes, (std::vector<std::uint64_t>{0, 1, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19}));
    EXPECT_EQ(f.done->bytes_read, 16u * block);

    const RecordedFile& none = sink.files[2];
    ASSERT_TRUE(none.done);
    EXPECT_FALSE(none.done->error);
    EXPECT_FALSE(none.done->whole);
    EXPECT_TRUE(none.blocks.empty());
    EXPECT_EQ(none.done->bytes_read, 0u);

    expect_matches_reference(sink.files[3], p, block);
}

TEST_P(HasherTest, FileShorterThanSubmittedIsReportedNotFatal) {
    const fs::path p = random_file("short", 5 * kPage + 10, 12);
    const fs::path ok = random_file("ok", 3 * kPage, 13);
    RecordingSink sink;
    {
        Hasher h(sink, options());
        h.submit(job_for(p, 1, {}, 9 * kPage));   // as if it shrank after the caller's fstat
        h.submit(job_for(p, 2, {}, 5 * kPage + 11));  // by one byte
        h.submit(job_for(ok, 3));
        h.finish();
    }
    for (const std::uint64_t t : {std::uint64_t{1}, std::uint64_t{2}}) {
        const RecordedFile& f = sink.files[t];
        ASSERT_TRUE(f.done);
        ASSERT_TRUE(f.done->error);
        EXPECT_EQ(f.done->error->kind, FileError::Kind::Shrank);
        EXPECT_NE(f.done->error->message.find("shrank"), std::string::npos) << f.done->error->message;
        EXPECT_FALSE(f.done->whole);
        EXPECT_LE(f.done->bytes_read, 5u * kPage + 10);
        EXPECT_TRUE(f.fd_returned);
    }
    expect_matches_reference(sink.files[3], ok, kPage);
}

// Truncates a file from inside the sink once its first block has been hashed: with one read
// per file in flight, every later read of that file happens after the truncation.
class TruncatingSink : public RecordingSink {
public:
    TruncatingSink(fs::path path, std::uint64_t new_size) : path_(std::move(path)), new_size_(new_size) {}
    void on_block(const BlockDigest& b) override {
        RecordingSink::on_block(b);
        if (b.index == 0) fs::resize_file(path_, new_size_);
    }

private:
    fs::path path_;
    std::uint64_t new_size_;
};

TEST_P(HasherTest, FileThatShrinksWhileBeingReadIsReported) {
    for (const std::uint64_t new_size : std::initializer_list<std::uint64_t>{2 * kPage + 2000, 2 * kPage, 0}) {
        SCOPED_TRACE(new_size);
        const fs::path p = random_file("shrinking", 10 * kPage, 14);
        TruncatingSink sink(p, new_size);
        HasherOptions o = options();
        o.read_size = kPage;
        o.max_reads_per_file = 1;
        {
            Hasher h(sink, o);
            h.submit(job_for(p, 1));
            h.finish();
        }
        const RecordedFile& f = sink.files[1];
        ASSERT_TRUE(f.done);
        ASSERT_TRUE(f.done->error);
        EXPECT_EQ(f.done->error->kind, FileError::Kind::Shrank);
        EXPECT_FALSE(f.done->whole);
        EXPECT_LE(f.done->bytes_read, std::max<std::uint64_t>(new_size / kPage * kPage, kPage));
    }
}

TEST_P(HasherTest, ReadErrorIsReportedWithErrno) {
    // read(2) on a directory fails with EISDIR: a real kernel error without a broken disk.
    UniqueFd dir(::open(dir_->path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir);
    const fs::path ok = random_file("ok", 2 * kPage + 1, 15);
    RecordingSink sink;
    {
        Hasher h(sink, options());
        FileJob j;
        j.fd = std::move(dir);
        j.size = 3 * kPage;
        j.token = 1;
        h.submit(std::move(j));
        h.submit(job_for(ok, 2));
        h.finish();
    }
    const RecordedFile& f = sink.files[1];
    ASSERT_TRUE(f.done);
    ASSERT_TRUE(f.done->error);
    EXPECT_EQ(f.done->error->kind, FileError::Kind::Read);
    EXPECT_EQ(f.done->error->err, EISDIR);
    EXPECT_NE(f.done->error->message.find("offset 0"), std::string::npos) << f.done->error->message;
    EXPECT_FALSE(f.done->whole);
    EXPECT_TRUE(f.blocks.empty());
    expect_matches_reference(sink.files[2], ok, kPage);
}

TEST_P(HasherTest, ManyFilesWithBoundedFilesInFlight) {
    std::mt19937_64 rng(16);
    std::vector<fs::path> paths;
    for (std::uint64_t i = 0; i < 200; ++i)
        paths.push_back(random_file("m" + std::to_string(i), rng() % (200 * 1024), i));
    for (const bool drop_cache : {false, true}) {
        SCOPED_TRACE(drop_cache ? "drop_cache" : "keep cache");
        HasherOptions o = options(kPage);
        o.queue_depth = 16;
        o.read_size = 8 * kPage;
        o.max_files_in_flight = 8;
        o.drop_cache = drop_cache;  // files then wait for their DONTNEED before being reported
        RecordingSink sink;
        {
            Hasher h(sink, o);
            for (std::uint64_t i = 0; i < paths.size(); ++i) {
                h.submit(job_for(paths[i], i));
                EXPECT_LE(i + 1 - sink.done_count, o.max_files_in_flight);
            }
            h.finish();
        }
        ASSERT_EQ(sink.done_count, paths.size());
        for (std::size_t i = 0; i < paths.size(); ++i)
            expect_matches_reference(sink.files[i], paths[i], kPage);
    }
}

class ThrowingSink : public RecordingSink {
public:
    void on_block(const BlockDigest& b) override {
        RecordingSink::on_block(b);
        if (++blocks_ == 3) throw std::runtime_error("sink failed");
    }

private:
    int blocks_ = 0;
};

TEST_P(HasherTest, SinkExceptionPropagatesAndTheHasherCanStillBeDestroyed) {
    const fs::path p = random_file("big", 64 * kPage, 17);
    ThrowingSink sink;
    Hasher h(sink, options());
    EXPECT_THROW(
        {
            h.submit(job_for(p, 1));
            h.submit(job_for(p, 2));
            h.finish();
        },
        std::runtime_error);
    EXPECT_THROW(h.submit(job_for(p, 3)), std::logic_error);
}

INSTANTIATE_TEST_SUITE_P(, HasherTest, ::testing::Values(EngineChoice::IoUring, EngineChoice::Pread),
                         [](const ::testing::TestParamInfo<EngineChoice>& p) {
                             return p.param == EngineChoice::IoUring ? "io_uring" : "pread";
                         });

// RDD_IO is read when the hasher is built, and only for EngineChoice::Auto.
class RddIoEnv : public ::testing::Test {
protected:
    void SetUp() override {
        if (const char* v = std::getenv("RDD_IO")) saved_ = v;
    }
    void TearDown() override {
        if (saved_) ::setenv("RDD_IO", saved_->c_str(), 1);
        else ::unsetenv("RDD_IO");
    }
    std::optional<std::string> saved_;
};

TEST_F(RddIoEnv, PreadForcesTheFallback) {
    ::setenv("RDD_IO", "pread", 1);
    RecordingSink sink;
    Hasher h(sink, HasherOptions{});
    EXPECT_EQ(h.engine(), EngineKind::Pread);
    EXPECT_EQ(h.engine_note(), "RDD_IO=pread");
    EXPECT_EQ(to_string(h.engine()), "pread");
}

TEST_F(RddIoEnv, OtherValuesAreRejected) {
    ::setenv("RDD_IO", "aio", 1);
    RecordingSink sink;
    EXPECT_THROW(Hasher(sink, HasherOptions{}), std::invalid_argument);
    EXPECT_THROW((void)engine_choice_from_env(), std::invalid_argument);
}

TEST_F(RddIoEnv, UnsetMeansFallbackChoice) {
    ::unsetenv("RDD_IO");
    EXPECT_EQ(engine_choice_from_env(EngineChoice::Pread), EngineChoice::Pread);
    EXPECT_EQ(engine_choice_from_env(), EngineChoice::Auto);
    ::setenv("RDD_IO", "io_uring", 1);
    EXPECT_EQ(engine_choice_from_env(), EngineChoice::IoUring);
}

TEST(HasherOptionsTest, InvalidOptionsAreRejected) {
    RecordingSink sink;
    for (const std::uint32_t block : {0u, 1000u, 4097u, 128u << 20}) {
        HasherOptions o;
        o.block_size = block;
        EXPECT_THROW(Hasher(sink, o), std::invalid_argument) << block;
    }
    HasherOptions o;
    o.queue_depth = 0;
    EXPECT_THROW(Hasher(sink, o), std::invalid_argument);
    o = HasherOptions{};
    o.max_files_in_flight = 0;
    EXPECT_THROW(Hasher(sink, o), std::invalid_argument);
}

}  // namespace
}  // namespace rdd::hash
