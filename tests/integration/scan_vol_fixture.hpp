#pragma once
// The scan-vol test fixture: a fresh loop filesystem, a catalog in the test's own directory,
// and checks of catalog rows and digests against the files themselves.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include "cli_runner.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "reflinkdedup/fs/file_identity.hpp"
#include "reflinkdedup/fs/regular_file.hpp"
#include "support/file_checks.hpp"
#include "support/fs_kind_param.hpp"
#include "support/read_file.hpp"

namespace rdd::test {

namespace fs = std::filesystem;
constexpr std::uint32_t kBlock = 65536;  // the tests' catalogs are made with --block-size 64K

class ScanVolFixture : public LoopFsTest {
protected:
    std::string db() { return (fs().temp_dir() / "catalog.sqlite").string(); }

    CliRun scan(std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"scan-vol", "--json", "--block-size", "64K", "--db", db()};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back(fs().mount_point().string());
        return run_reflinkdedup(args);
    }

    std::optional<catalog::FileRow> row(const fs::path& p) {
        const OpenedFile f = open_regular_file(p.string());
        if (f.problem) return std::nullopt;
        const FsType type = GetParam() == FsKind::Btrfs ? FsType::Btrfs : FsType::Xfs;
        const FileIdentity id = file_identity(f.fd.get(), type, p.string());
        const auto cat = catalog::Catalog::open_reader(db());
        return cat.find_file({id.subvolume, id.inode, id.generation});
    }

    std::size_t catalog_files() {
        const auto cat = catalog::Catalog::open_reader(db());
        std::size_t n = 0;
        for (const std::uint64_t subvol : {std::uint64_t{0}, std::uint64_t{5}}) {
            (void)cat.for_each_file(subvol, [&](const catalog::FileRow&) { return ++n, true; });
        }
        return n;
    }

    // The catalog's blocks of `p` against XXH3-128 of each 64 KiB block read by the test.
    void expect_blocks_match(const fs::path& p) {
        const auto r = row(p);
        ASSERT_TRUE(r) << p;
        const std::vector<char> data = test::read_file(p);
        std::vector<catalog::Block> blocks;
        const auto cat = catalog::Catalog::open_reader(db());
        (void)cat.for_each_block(r->id, [&](const catalog::Block& b) { return blocks.push_back(b), true; });
        ASSERT_EQ(blocks.size(), (data.size() + kBlock - 1) / kBlock) << p;
        for (std::size_t i = 0; i < blocks.size(); ++i) {
            const std::size_t off = i * kBlock, len = std::min<std::size_t>(kBlock, data.size() - off);
            const bool zero = test::all_zero(data.data() + off, len);
            EXPECT_EQ(blocks[i].index, i);
            EXPECT_EQ(blocks[i].zero, zero) << p << " block " << i;
            if (!zero) {
                const XXH128_hash_t h = XXH3_128bits(data.data() + off, len);
                EXPECT_EQ(blocks[i].digest, (catalog::Digest{h.high64, h.low64})) << p << " block " << i;
            }
        }
    }

    void write_text(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
};

}  // namespace rdd::test
