// File identity, block replacement, zero runs, passes and batch transactions.
#include "catalog_test_support.hpp"
#include "reflinkdedup/catalog/errors.hpp"

namespace rdd::catalog {
namespace {

using testing::TempDir;
using testing::blocks;
using testing::read_blocks;
using testing::read_zero_runs;
using testing::record;

class CatalogFiles : public ::testing::Test {
protected:
    CatalogFiles() : catalog_(Catalog::open_writer(tmp_.path() / "c.sqlite", testing::writer_options())) {
        volume_ = catalog_.add_volume(5, "/mnt/backup");
        epoch_ = catalog_.begin_pass(volume_);
    }

    FileId put(const FileRecord& r, const std::vector<Block>& b) {
        WriteBatch batch(catalog_, epoch_);
        const FileId id = batch.put_file(r, b);
        batch.commit();
        return id;
    }

    TempDir tmp_;
    Catalog catalog_;
    VolumeId volume_ = 0;
    Epoch epoch_ = 0;
};

TEST_F(CatalogFiles, StoresAndFindsAFileByIdentity) {
    FileRecord r = record(42, 7, "a/b", volume_);
    r.size = 12345;
    r.content_digest = testing::digest(99);
    const FileId id = put(r, blocks(0, 3));
    const auto row = catalog_.find_file(FileIdentity{5, 42, 7});
    ASSERT_TRUE(row.has_value());
    EXPECT_EQ(row->id, id);
    EXPECT_EQ(row->size, 12345U);
    EXPECT_EQ(row->mtime_ns, r.mtime_ns);
    EXPECT_EQ(row->ctime_ns, r.ctime_ns);
    EXPECT_EQ(row->content_digest, testing::digest(99));
    EXPECT_EQ(row->path, "a/b");
    EXPECT_EQ(row->state, FileState::hashed);
    EXPECT_EQ(row->volume, volume_);
    EXPECT_EQ(row->seen_epoch, epoch_);
    EXPECT_EQ(row->hashed_epoch, epoch_);
    EXPECT_EQ(read_blocks(catalog_, id), blocks(0, 3));
    EXPECT_FALSE(catalog_.find_file(FileIdentity{5, 42, 8}).has_value());
    EXPECT_FALSE(catalog_.find_file(FileIdentity{6, 42, 7}).has_value());  // other subvolume
}

TEST_F(CatalogFiles, LargeUnsignedValuesRoundTrip) {
    FileRecord r = record(~std::uint64_t{0} - 1, ~std::uint64_t{0}, "big", volume_);
    r.identity.subvol = std::uint64_t{1} << 63;
    r.size = ~std::uint64_t{0};
    std::vector<Block> b{{~std::uint64_t{0} - 1, Digest{~std::uint64_t{0}, 0}, ~std::uint64_t{0} - 4095, false}};
    const FileId id = put(r, b);
    const auto row = catalog_.find_file(r.identity);
    ASSERT_TRUE(row.has_value());
    EXPECT_EQ(row->id, id);
    EXPECT_EQ(row->size, ~std::uint64_t{0});
    EXPECT_EQ(read_blocks(catalog_, id), b);
}

TEST_F(CatalogFiles, RenameKeepsTheRowAndChangesOnlyThePath) {
    const FileId id = put(record(42, 1, "old/name", volume_), blocks(0, 3));
    const FileId again = put(record(42, 1, "new/name", volume_), blocks(0, 3));
    EXPECT_EQ(again, id);
    EXPECT_EQ(catalog_.file(id)->path, "new/name");
    EXPECT_EQ(catalog_.stats().files, 1);
    // A full pass that finds it unchanged under another name only touches it.
    const Epoch next = catalog_.begin_pass(volume_);
    WriteBatch batch(catalog_, next);
    batch.touch_file(id, volume_, "third/name");
    batch.commit();
    EXPECT_EQ(catalog_.file(id)->path, "third/name");
    EXPECT_EQ(catalog_.file(id)->seen_epoch, next);
    EXPECT_EQ(catalog_.file(id)->hashed_epoch, epoch_);
    EXPECT_EQ(read_blocks(catalog_, id), blocks(0, 3));
}

TEST_F(CatalogFiles, TouchCanTakeANewCtimeAndKeepTheBlocks) {
    const FileId id = put(record(42, 1, "a", volume_), blocks(0, 3));
    const Epoch next = catalog_.begin_pass(volume_);
    WriteBatch batch(catalog_, next);
    batch.touch_file(id, volume_, "b", 987654321);
    batch.commit();
    const auto row = catalog_.file(id);
    EXPECT_EQ(row->ctime_ns, 987654321);
    EXPECT_EQ(row->path, "b");
    EXPECT_EQ(row->state, FileState::hashed);
    EXPECT_EQ(row->hashed_epoch, epoch_);
    EXPECT_EQ(read_blocks(catalog_, id), blocks(0, 3));
}

TEST_F(CatalogFiles, HardLinksAreOneFile) {
    const FileId a = put(record(42, 1, "link1", volume_), blocks(0, 2));
    const FileId b = put(record(42, 1, "link2", volume_), blocks(0, 2));
    EXPECT_EQ(a, b);
    EXPECT_EQ(catalog_.stats().files, 1);
    EXPECT_EQ(catalog_.stats().block_rows, 2);
}

TEST_F(CatalogFiles, ReusedInodeNumberWithNewGenerationIsAnotherFile) {
    const FileId old_id = put(record(42, 1, "x", volume_), blocks(0, 3));
    WriteBatch batch(catalog_, epoch_);
    const FileId new_id = batch.put_file(record(42, 2, "x", volume_), blocks(100, 2));
    EXPECT_EQ(batch.stale_generations_deleted(), 0u);  // not until committed
    batch.commit();
    EXPECT_EQ(batch.stale_generations_deleted(), 1u);  // the scan counts it as deleted
    EXPECT_NE(new_id, old_id);
    // The old generation cannot exist any more: it left with its blocks.
    EXPECT_FALSE(catalog_.find_file(FileIdentity{5, 42, 1}).has_value());
    EXPECT_FALSE(catalog_.file(old_id).has_value());
    EXPECT_TRUE(read_blocks(catalog_, old_id).empty());
    EXPECT_EQ(read_blocks(catalog_, new_id), blocks(100, 2));
    EXPECT_EQ(catalog_.stats().block_rows, 2);
}

TEST_F(CatalogFiles, UpsertReplacesBlocks) {
    const FileId id = put(record(1, 1, "f", volume_), blocks(0, 10));
    std::vector<Block> fewer = blocks(500, 4);
    fewer[2].zero = true;
    fewer[2].digest = Digest{};
    fewer[2].physical = 0;
    EXPECT_EQ(put(record(1, 1, "f", volume_), fewer), id);
    EXPECT_EQ(read_blocks(catalog_, id), fewer);
    const auto s = catalog_.stats();
    EXPECT_EQ(s.block_rows, 3);
    EXPECT_EQ(s.zero_blocks, 1);
    // And back to no blocks at all (e.g. truncated to 0).
    EXPECT_EQ(put(record(1, 1, "f", volume_), {}), id);
    EXPECT_TRUE(read_blocks(catalog_, id).empty());
    EXPECT_EQ(catalog_.stats().zero_blocks, 0);
}

TEST_F(CatalogFiles, ZeroBlocksAreStoredAsRuns) {
    std::vector<Block> b;
    for (std::uint64_t i = 0; i < 1000; ++i) {
        const bool zero = (i >= 10 && i < 500) || i == 700 || i >= 990;
        b.push_back(zero ? Block{i, Digest{}, 0, true} : Block{i, testing::digest(i), 0, false});
    }
    WriteBatch batch(catalog_, epoch_);
    const FileId id = batch.begin_file(record(1, 1, "sparse", volume_));
    // In pieces, with a zero run spanning two calls.
    batch.add_blocks(id, std::span(b).first(300));
    batch.add_blocks(id, std::span(b).subspan(300));
    batch.end_file(id, testing::digest(12345));
    batch.commit();

    EXPECT_EQ(read_zero_runs(catalog_, id), (std::vector<ZeroRun>{{10, 490}, {700, 1}, {990, 10}}));
    EXPECT_EQ(catalog_.connection().query_int("SELECT count(*) FROM zero_run"), 3);
    EXPECT_EQ(catalog_.stats().block_rows, 1000 - 490 - 1 - 10);
    EXPECT_EQ(read_blocks(catalog_, id), b);
    EXPECT_EQ(catalog_.file(id)->content_digest, testing::digest(12345));
    // Unknown physical addresses read back as 0.
    EXPECT_EQ(read_blocks(catalog_, id)[0].physical, 0U);
}

// A hole given as a run makes the same rows as its blocks one by one, and joins the zero
// blocks around it; a run out of order is refused like a block.
TEST_F(CatalogFiles, ZeroRunsJoinZeroBlocksAroundThem) {
    WriteBatch batch(catalog_, epoch_);
    const FileId id = batch.begin_file(record(1, 1, "sparse", volume_));
    const std::uint64_t kTiBOfBlocks = std::uint64_t{1} << 28;
    batch.add_blocks(id, std::vector<Block>{{0, testing::digest(1), 0, false}, {1, Digest{}, 0, true}});
    batch.add_zero_blocks(id, 2, kTiBOfBlocks);
    batch.add_zero_blocks(id, 2 + kTiBOfBlocks, 0);  // nothing
    batch.add_blocks(id, std::vector<Block>{{2 + kTiBOfBlocks, Digest{}, 0, true}});
    batch.add_zero_blocks(id, 10 + kTiBOfBlocks, 5);
    EXPECT_THROW(batch.add_zero_blocks(id, 12 + kTiBOfBlocks, 1), std::invalid_argument);
    batch.add_blocks(id, std::vector<Block>{{15 + kTiBOfBlocks, testing::digest(2), 0, false}});
    batch.end_file(id, testing::digest(3));
    batch.commit();

    EXPECT_EQ(read_zero_runs(catalog_, id), (std::vector<ZeroRun>{{1, kTiBOfBlocks + 2}, {10 + kTiBOfBlocks, 5}}));
    EXPECT_EQ(catalog_.stats().block_rows, 2);
    EXPECT_EQ(catalog_.stats().zero_blocks, static_cast<std::int64_t>(kTiBOfBlocks + 7));
}

TEST_F(CatalogFiles, AbortedFileKeepsNoBlocks) {
    FileRecord r = record(1, 1, "busy", volume_);
    r.content_digest = testing::digest(5);
    WriteBatch batch(catalog_, epoch_);
    const FileId id = batch.begin_file(r);
    batch.add_blocks(id, blocks(0, 8));
    batch.abort_file(id, FileState::busy_retry);
    (void)batch.put_file(record(2), blocks(100, 2));  // the batch goes on
    batch.commit();
    const auto row = catalog_.file(id);
    ASSERT_TRUE(row.has_value());
    EXPECT_EQ(row->state, FileState::busy_retry);
    EXPECT_FALSE(row->content_digest.has_value());
    EXPECT_TRUE(read_blocks(catalog_, id).empty());
    EXPECT_EQ(catalog_.stats().block_rows, 2);
}

TEST_F(CatalogFiles, BlocksMustComeInOrderToAnOpenFile) {
    WriteBatch batch(catalog_, epoch_);
    const FileId id = batch.begin_file(record(1));
    batch.add_blocks(id, blocks(0, 5));
    EXPECT_THROW(batch.add_blocks(id, blocks(0, 1)), std::invalid_argument);
    batch.end_file(id);
    EXPECT_THROW(batch.add_blocks(id, blocks(10, 1)), std::logic_error);  // closed
    EXPECT_THROW(batch.end_file(id), std::logic_error);
    EXPECT_THROW(batch.add_blocks(id + 1, blocks(0, 1)), std::logic_error);  // never opened
}

TEST_F(CatalogFiles, ManyFilesOpenAtOnceFinishInAnyOrder) {
    WriteBatch batch(catalog_, epoch_, /*rows_per_commit=*/7);  // commits while files are open
    std::vector<FileId> ids;
    std::vector<std::vector<Block>> want;
    for (std::uint64_t f = 0; f < 4; ++f) {
        FileRecord r = record(f + 1, 1, "", volume_);
        r.content_digest = testing::digest(1000 + f);
        ids.push_back(batch.begin_file(r));
        want.push_back(blocks(f * 100, 10));
        want.back()[3] = Block{3, Digest{}, 0, true};
    }
    EXPECT_EQ(batch.open_files(), 4U);
    // Interleaved, one block at a time, as a hasher pipeline delivers them.
    for (std::size_t i = 0; i < 10; ++i) {
        for (std::size_t f = 0; f < 4; ++f) batch.add_blocks(ids[f], std::span(&want[f][i], 1));
    }
    // Meanwhile other files are touched, and the files end out of order.
    batch.touch_file(ids[0], volume_, "renamed");
    batch.end_file(ids[2]);
    batch.abort_file(ids[1], FileState::failed);
    batch.end_file(ids[3], testing::digest(77));
    batch.end_file(ids[0]);
    EXPECT_EQ(batch.open_files(), 0U);
    batch.commit();

    EXPECT_EQ(read_blocks(catalog_, ids[0]), want[0]);
    EXPECT_TRUE(read_blocks(catalog_, ids[1]).empty());
    EXPECT_EQ(read_blocks(catalog_, ids[2]), want[2]);
    EXPECT_EQ(read_blocks(catalog_, ids[3]), want[3]);
    EXPECT_EQ(catalog_.file(ids[0])->content_digest, testing::digest(1000));  // the record's
    EXPECT_EQ(catalog_.file(ids[0])->path, "renamed");
    EXPECT_EQ(catalog_.file(ids[1])->state, FileState::failed);
    EXPECT_FALSE(catalog_.file(ids[1])->content_digest.has_value());
    EXPECT_EQ(catalog_.file(ids[3])->content_digest, testing::digest(77));
    EXPECT_EQ(catalog_.file(ids[3])->state, FileState::hashed);
}

TEST_F(CatalogFiles, OpenFilesArePendingAndACrashLeavesNoPartialBlocks) {
    const auto db = catalog_.path();
    FileId finished = 0;
    FileId unfinished = 0;
    {
        WriteBatch batch(catalog_, epoch_, /*rows_per_commit=*/5);
        finished = batch.put_file(record(1), blocks(0, 4));
        FileRecord r = record(2);
        r.content_digest = testing::digest(5);
        unfinished = batch.begin_file(r);
        batch.add_blocks(unfinished, blocks(50, 6));  // committed: more than 5 rows
        EXPECT_EQ(batch.uncommitted_rows(), 0U);
        // What a reader sees meanwhile: a pending file, never a hashed one with half its blocks.
        Catalog reader = Catalog::open_reader(db);
        EXPECT_EQ(reader.file(unfinished)->state, FileState::pending);
        EXPECT_FALSE(reader.file(unfinished)->content_digest.has_value());
        EXPECT_EQ(reader.file(finished)->state, FileState::hashed);
    }  // the scan dies: the batch goes away with the file open
    { Catalog closing = std::move(catalog_); }  // lets go of the writer lock
    catalog_ = Catalog::open_writer(db, testing::writer_options());
    EXPECT_EQ(catalog_.file(unfinished)->state, FileState::pending);
    EXPECT_TRUE(read_blocks(catalog_, unfinished).empty());
    EXPECT_EQ(read_blocks(catalog_, finished), blocks(0, 4));
}

TEST_F(CatalogFiles, StopsWhenTheVisitorSaysSo) {
    const FileId id = put(record(1), blocks(0, 10));
    int seen = 0;
    EXPECT_FALSE(catalog_.for_each_block(id, [&](const Block&) { return ++seen < 3; }));
    EXPECT_EQ(seen, 3);
}

TEST_F(CatalogFiles, FilesNotSeenInAFullPassAreDeleted) {
    const VolumeId other = catalog_.add_volume(6, "/mnt/other");
    EXPECT_EQ(catalog_.add_volume(5, "/mnt/backup-renamed"), volume_);
    EXPECT_EQ(catalog_.volume(volume_)->path, "/mnt/backup-renamed");
    std::vector<FileId> ids;
    for (std::uint64_t i = 1; i <= 5; ++i) ids.push_back(put(record(i, 1, "", volume_), blocks(i * 10, 3)));
    const FileId elsewhere = put(record(100, 1, "", other), blocks(1000, 3));

    // The next full pass sees 1, 3 (re-hashed) and 5 (unchanged).
    const Epoch pass = catalog_.begin_pass(volume_);
    EXPECT_GT(pass, epoch_);
    EXPECT_EQ(catalog_.volume(volume_)->scan_state, ScanState::scanning);
    {
        WriteBatch batch(catalog_, pass, 2);
        batch.touch_file(ids[0], volume_, "one");
        (void)batch.put_file(record(3, 1, "three", volume_), blocks(333, 2));
        batch.touch_file(ids[4], volume_, "five");
        batch.commit();
    }
    EXPECT_EQ(catalog_.delete_unseen(volume_, pass), 2U);
    catalog_.finish_pass(volume_, 777);

    EXPECT_TRUE(catalog_.file(ids[0]).has_value());
    EXPECT_FALSE(catalog_.file(ids[1]).has_value());
    EXPECT_TRUE(catalog_.file(ids[2]).has_value());
    EXPECT_FALSE(catalog_.file(ids[3]).has_value());
    EXPECT_TRUE(catalog_.file(ids[4]).has_value());
    EXPECT_TRUE(catalog_.file(elsewhere).has_value());  // another volume's file is not touched
    EXPECT_TRUE(read_blocks(catalog_, ids[1]).empty());
    EXPECT_EQ(catalog_.stats().block_rows, 3 + 2 + 3 + 3);

    const auto v = catalog_.volume(volume_);
    EXPECT_EQ(v->last_generation, 777U);
    EXPECT_EQ(v->scan_state, ScanState::complete);
    EXPECT_EQ(v->last_epoch, pass);
    // An interrupted pass does not advance the generation.
    (void)catalog_.begin_pass(volume_);
    catalog_.finish_pass(volume_, 999, ScanState::interrupted);
    EXPECT_EQ(catalog_.volume(volume_)->last_generation, 777U);
    EXPECT_EQ(catalog_.volume(volume_)->scan_state, ScanState::interrupted);
    EXPECT_EQ(catalog_.volumes().size(), 2U);
}

TEST_F(CatalogFiles, FilesOfASubvolumeInInodeOrder) {
    for (std::uint64_t ino : {30ULL, 10ULL, 20ULL}) (void)put(record(ino, 1, "", volume_), blocks(ino, 1));
    FileRecord other = record(15, 1, "", volume_);
    other.identity.subvol = 6;
    (void)put(other, {});
    std::vector<std::uint64_t> inos;
    catalog_.for_each_file(5, [&](const FileRow& f) {
        inos.push_back(f.identity.ino);
        return true;
    });
    EXPECT_EQ(inos, (std::vector<std::uint64_t>{10, 20, 30}));
}

TEST_F(CatalogFiles, DirectoryVolumesAreKeyedByPath) {
    const VolumeId a = catalog_.add_volume(0, "/srv/a");
    const VolumeId b = catalog_.add_volume(0, "/srv/b");
    EXPECT_NE(a, b);
    EXPECT_EQ(catalog_.add_volume(0, "/srv/a"), a);
}

TEST_F(CatalogFiles, BatchCommitsEveryNRowsAndRollsBackTheRest) {
    {
        WriteBatch batch(catalog_, epoch_, /*rows_per_commit=*/10);
        (void)batch.put_file(record(1), blocks(0, 9));  // 10 rows: committed
        EXPECT_EQ(batch.uncommitted_rows(), 0U);
        (void)batch.put_file(record(2), blocks(100, 3));  // 4 rows: not committed yet
        EXPECT_EQ(batch.uncommitted_rows(), 4U);
        // A reader sees the committed part only.
        Catalog reader = Catalog::open_reader(catalog_.path());
        EXPECT_TRUE(reader.find_file(FileIdentity{5, 1, 1}).has_value());
        EXPECT_FALSE(reader.find_file(FileIdentity{5, 2, 1}).has_value());
    }  // destroyed without commit
    EXPECT_TRUE(catalog_.find_file(FileIdentity{5, 1, 1}).has_value());
    EXPECT_FALSE(catalog_.find_file(FileIdentity{5, 2, 1}).has_value());
    EXPECT_EQ(catalog_.stats().block_rows, 9);
}

TEST_F(CatalogFiles, StateAndDeletion) {
    const FileId id = put(record(1), blocks(0, 3));
    {
        WriteBatch batch(catalog_, epoch_);
        batch.set_state(id, FileState::busy_retry);
        batch.commit();
    }
    EXPECT_EQ(catalog_.file(id)->state, FileState::busy_retry);
    EXPECT_EQ(read_blocks(catalog_, id).size(), 3U);  // state alone keeps the blocks
    EXPECT_TRUE(catalog_.delete_file(id));
    EXPECT_FALSE(catalog_.delete_file(id));
    EXPECT_EQ(catalog_.stats().block_rows, 0);
}

TEST_F(CatalogFiles, CatalogCallsNestInsideAnOpenBatch) {
    WriteBatch batch(catalog_, epoch_);
    (void)batch.put_file(record(1), blocks(0, 3));
    const VolumeId v = catalog_.add_volume(0, "/inside");  // a savepoint, not a second BEGIN
    EXPECT_GT(v, 0);
    batch.commit();
    EXPECT_EQ(catalog_.volumes().size(), 2U);
}

}  // namespace
}  // namespace rdd::catalog
