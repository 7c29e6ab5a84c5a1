// Planner queries against brute force: whole-file groups and duplicate-block groups.
#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "catalog_test_support.hpp"

namespace rdd::catalog {
namespace {

using testing::TempDir;
using testing::record;
using Groups = std::map<Digest, std::vector<BlockOccurrence>>;
using Method = DuplicateBlockQuery::Method;

Groups collect(const Catalog& c, const DuplicateBlockQuery& q) {
    Groups out;
    std::optional<Digest> previous;
    c.for_each_duplicate_block_group(
        [&](const Digest& d, std::span<const BlockOccurrence> occ) {
            EXPECT_TRUE(!previous || *previous < d) << "groups out of digest order";
            previous = d;
            EXPECT_GE(occ.size(), 2U);
            EXPECT_TRUE(std::is_sorted(occ.begin(), occ.end()));
            EXPECT_TRUE(out.emplace(d, std::vector<BlockOccurrence>(occ.begin(), occ.end())).second);
            return true;
        },
        q);
    return out;
}

// The test's own model of what the catalog holds.
struct Model {
    struct File {
        FileId id = 0;
        Epoch hashed = 0;
        std::vector<Block> blocks;
    };
    std::map<std::uint64_t, File> files;  // by inode

    [[nodiscard]] Groups expected(Epoch changed_since) const {
        Groups all;
        std::map<Digest, bool> has_new;
        for (const auto& [ino, f] : files) {
            for (const Block& b : f.blocks) {
                if (b.zero) continue;
                all[b.digest].push_back(BlockOccurrence{f.id, b.index, b.physical});
                has_new[b.digest] = has_new[b.digest] || f.hashed >= changed_since;
            }
        }
        Groups out;
        for (auto& [d, occ] : all) {
            if (occ.size() < 2 || !has_new[d]) continue;
            std::sort(occ.begin(), occ.end());
            out.emplace(d, occ);
        }
        return out;
    }
};

class CatalogQueries : public ::testing::Test {
protected:
    CatalogQueries() : catalog_(Catalog::open_writer(tmp_.path() / "c.sqlite", testing::writer_options())) {
        volume_ = catalog_.add_volume(5, "/mnt");
    }

    // Random blocks from a small digest pool (many duplicates, including within a file),
    // some zero blocks, some unknown physical addresses.
    std::vector<Block> random_blocks() {
        std::vector<Block> out;
        const std::uint64_t n = rng_() % 40;
        for (std::uint64_t i = 0; i < n; ++i) {
            const auto r = rng_() % 100;
            if (r < 10) {
                out.push_back(Block{i, Digest{}, 0, true});
            } else {
                const Digest d = r < 15 ? Digest{0, 0} : testing::digest(rng_() % 120);  // {0,0} is a valid digest too
                out.push_back(Block{i, d, r < 20 ? 0 : (rng_() % 1'000'000) * 4096, false});
            }
        }
        return out;
    }

    void write(Epoch epoch, std::uint64_t ino, std::uint64_t gen = 1) {
        WriteBatch batch(catalog_, epoch, 7);
        auto blocks = random_blocks();
        const FileId id = batch.put_file(record(ino, gen, "", volume_), blocks);
        batch.commit();
        model_.files[ino] = Model::File{id, epoch, std::move(blocks)};
    }

    void expect_all_methods(Epoch changed_since) {
        const Groups want = model_.expected(changed_since);
        for (const Method m : {Method::automatic, Method::sort, Method::probe}) {
            DuplicateBlockQuery q;
            q.changed_since = changed_since;
            q.method = m;
            EXPECT_EQ(collect(catalog_, q), want) << "method " << static_cast<int>(m) << " since " << changed_since;
        }
        // Probe with too little memory falls back to the sort; sorts that spill to temporary
        // files: same answers.
        for (const Method m : {Method::sort, Method::probe}) {
            DuplicateBlockQuery tiny;
            tiny.changed_since = changed_since;
            tiny.method = m;
            tiny.probe_limit = 3;
            tiny.sort_memory = 1;  // the sorter's floor: 1024 records
            EXPECT_EQ(collect(catalog_, tiny), want) << "spilling, method " << static_cast<int>(m);
        }
    }

    TempDir tmp_;
    Catalog catalog_;
    VolumeId volume_ = 0;
    Model model_;
    std::mt19937_64 rng_{12345};
};

TEST_F(CatalogQueries, DuplicateBlockGroupsMatchBruteForce) {
    const Epoch first = catalog_.begin_pass(volume_);
    for (std::uint64_t ino = 1; ino <= 60; ++ino) write(first, ino);
    EXPECT_FALSE(model_.expected(0).empty());
    expect_all_methods(0);
    expect_all_methods(first);

    // A second pass: some files rewritten, one replaced by a new generation, some deleted.
    const Epoch second = catalog_.begin_pass(volume_);
    for (std::uint64_t ino : {3ULL, 9ULL, 27ULL, 61ULL, 62ULL}) write(second, ino);
    write(second, 10, 2);  // inode 10 reused
    for (std::uint64_t ino : {4ULL, 5ULL}) {
        EXPECT_TRUE(catalog_.delete_file(model_.files[ino].id));
        model_.files.erase(ino);
    }
    expect_all_methods(0);
    expect_all_methods(second);
    const Groups recent = model_.expected(second);
    EXPECT_FALSE(recent.empty());
    EXPECT_LT(recent.size(), model_.expected(0).size());

    // A reader gets the same answers (the probe's temp table works read-only).
    Catalog reader = Catalog::open_reader(catalog_.path());
    DuplicateBlockQuery q;
    q.changed_since = second;
    q.method = Method::probe;
    EXPECT_EQ(collect(reader, q), recent);
    EXPECT_EQ(collect(reader, {}), model_.expected(0));

    // Nothing new since a future epoch.
    DuplicateBlockQuery future;
    future.changed_since = second + 1;
    future.method = Method::probe;
    EXPECT_TRUE(collect(catalog_, future).empty());
}

TEST_F(CatalogQueries, DuplicateBlockQueryStopsEarly) {
    const Epoch e = catalog_.begin_pass(volume_);
    for (std::uint64_t ino = 1; ino <= 30; ++ino) write(e, ino);
    ASSERT_GE(model_.expected(0).size(), 2U);
    for (const Method m : {Method::sort, Method::probe}) {
        int calls = 0;
        DuplicateBlockQuery q;
        q.changed_since = e;
        q.method = m;
        EXPECT_FALSE(catalog_.for_each_duplicate_block_group(
            [&](const Digest&, std::span<const BlockOccurrence>) { return ++calls < 2; }, q));
        EXPECT_EQ(calls, 2);
    }
}

TEST_F(CatalogQueries, WholeFileGroups) {
    const Epoch e1 = catalog_.begin_pass(volume_);
    const auto file = [&](Epoch e, std::uint64_t ino, std::uint64_t size, std::uint64_t digest_no,
                          FileState state = FileState::hashed) {
        FileRecord r = record(ino, 1, "", volume_);
        r.size = size;
        r.content_digest = testing::digest(digest_no);
        r.state = state;
        WriteBatch batch(catalog_, e);
        const FileId id = batch.put_file(r, {});
        batch.commit();
        return id;
    };
    const FileId a1 = file(e1, 1, 1000, 7);
    const FileId a2 = file(e1, 2, 1000, 7);
    const FileId a3 = file(e1, 3, 1000, 7);
    (void)file(e1, 4, 2000, 7);                           // same digest, other size: not a duplicate
    (void)file(e1, 5, 1000, 8);                           // alone
    (void)file(e1, 6, 1000, 7, FileState::busy_retry);    // not hashed: not a candidate
    const FileId small1 = file(e1, 7, 10, 9);
    const FileId small2 = file(e1, 8, 10, 9);
    {
        FileRecord unhashed = record(9, 1, "", volume_);  // no digest at all
        WriteBatch batch(catalog_, e1);
        (void)batch.put_file(unhashed, {});
        batch.commit();
    }
    const Epoch e2 = catalog_.begin_pass(volume_);
    const FileId b1 = file(e1, 10, 5000, 11);
    const FileId b2 = file(e2, 11, 5000, 11);

    const auto groups = [&](const DuplicateFileQuery& q) {
        std::vector<std::vector<FileId>> out;
        catalog_.for_each_duplicate_file_group(
            [&](std::span<const FileRow> g) {
                std::vector<FileId> ids;
                for (const FileRow& f : g) ids.push_back(f.id);
                out.push_back(ids);
                return true;
            },
            q);
        return out;
    };
    using V = std::vector<std::vector<FileId>>;
    EXPECT_EQ(groups({}), (V{{small1, small2}, {a1, a2, a3}, {b1, b2}}));
    EXPECT_EQ(groups({100, 0}), (V{{a1, a2, a3}, {b1, b2}}));
    EXPECT_EQ(groups({1, e2}), (V{{b1, b2}}));
}

}  // namespace
}  // namespace rdd::catalog
