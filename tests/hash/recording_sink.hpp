#pragma once
// A HashSink that keeps everything it is told, per token, and checks the promises the hasher
// makes about ordering (blocks ascending per file, nothing after a file's done report).
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "reflinkdedup/hash/hasher.hpp"

namespace rdd::hash::test {

struct RecordedFile {
    std::vector<BlockDigest> blocks;
    std::optional<FileDigest> done;  // its fd already closed
    bool fd_returned = false;
};

class RecordingSink : public HashSink {
public:
    void on_block(const BlockDigest& b) override {
        RecordedFile& f = files[b.token];
        EXPECT_FALSE(f.done) << "block after done, token " << b.token;
        if (!f.blocks.empty()) {
            EXPECT_LT(f.blocks.back().index, b.index) << "blocks out of order, token " << b.token;
        }
        f.blocks.push_back(b);
    }
    void on_file_done(FileDigest& d) override {
        RecordedFile& f = files[d.token];
        EXPECT_FALSE(f.done) << "done twice, token " << d.token;
        ++done_count;
        f.fd_returned = d.fd.valid();
        d.fd.reset();  // keeps hundreds of files from holding hundreds of fds
        f.done = std::move(d);
    }

    std::map<std::uint64_t, RecordedFile> files;
    std::uint64_t done_count = 0;
};

}  // namespace rdd::hash::test
