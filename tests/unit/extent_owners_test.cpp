// Reading LOGICAL_INO's answer and deciding who else holds an extent.
#include "reflinkdedup/clone/extent_owners.hpp"

#include <gtest/gtest.h>

#include <linux/btrfs.h>

#include <cstring>
#include <stdexcept>
#include <vector>

namespace rdd {
namespace {

// A btrfs_data_container as the kernel fills it.
std::vector<std::uint64_t> container(const std::vector<ExtentReference>& refs, std::uint32_t missing = 0,
                                     std::uint32_t count_override = UINT32_MAX) {
    std::vector<std::uint64_t> words(2 + 3 * refs.size() + 1);
    btrfs_data_container head{};
    head.bytes_missing = missing;
    head.elem_cnt = count_override != UINT32_MAX ? count_override : static_cast<std::uint32_t>(3 * refs.size());
    std::memcpy(words.data(), &head, sizeof head);
    for (std::size_t i = 0; i < refs.size(); ++i) {
        words[2 + 3 * i] = refs[i].ino;
        words[3 + 3 * i] = refs[i].offset;
        words[4 + 3 * i] = refs[i].root;
    }
    return words;
}

TEST(ExtentOwners, ParsesInodeOffsetRootTriples) {
    const std::vector<ExtentReference> refs{{257, 0, 5}, {258, 4096, 256}, {257, 0, 259}};
    const auto words = container(refs, 0);
    std::uint32_t missing = 7;
    EXPECT_EQ(parse_logical_ino(std::as_bytes(std::span(words)), missing), refs);
    EXPECT_EQ(missing, 0u);
    const auto more = container({}, 4096);
    EXPECT_TRUE(parse_logical_ino(std::as_bytes(std::span(more)), missing).empty());
    EXPECT_EQ(missing, 4096u);
}

TEST(ExtentOwners, CountsThatRunPastTheBufferAreRejected) {
    std::uint32_t missing = 0;
    const auto liar = container({{257, 0, 5}}, 0, 30);
    EXPECT_THROW((void)parse_logical_ino(std::as_bytes(std::span(liar)), missing), std::runtime_error);
    const auto odd = container({{257, 0, 5}}, 0, 2);
    EXPECT_THROW((void)parse_logical_ino(std::as_bytes(std::span(odd)), missing), std::runtime_error);
    const std::byte tiny[4]{};
    EXPECT_THROW((void)parse_logical_ino(tiny, missing), std::runtime_error);
    // Found by fuzz_logical_ino: a huge count was reserved before it was checked.
    const auto huge = container({}, 0, 0xfffffffc);
    EXPECT_THROW((void)parse_logical_ino(std::as_bytes(std::span(huge)), missing), std::runtime_error);
}

TEST(ExtentOwners, ClassifiesOtherFilesAndReadOnlySnapshots) {
    const auto ro = [](std::uint64_t root) { return root == 300; };
    const std::vector<ExtentReference> self{{257, 0, 256}, {257, 1 << 20, 256}};
    EXPECT_EQ(classify_owners(self, 256, 257, ro), ExtentOwners::ThisFile);
    EXPECT_EQ(classify_owners({}, 256, 257, ro), ExtentOwners::ThisFile);
    // The same inode number in another subvolume is another file.
    EXPECT_EQ(classify_owners(std::vector<ExtentReference>{{257, 0, 256}, {257, 0, 257}}, 256, 257, ro),
              ExtentOwners::OtherFiles);
    EXPECT_EQ(classify_owners(std::vector<ExtentReference>{{257, 0, 256}, {258, 0, 256}}, 256, 257, ro),
              ExtentOwners::OtherFiles);
    // A read-only snapshot wins over any other owner, wherever it is listed.
    EXPECT_EQ(classify_owners(std::vector<ExtentReference>{{258, 0, 256}, {257, 0, 300}}, 256, 257, ro),
              ExtentOwners::ReadOnlySnapshot);
}

}  // namespace
}  // namespace rdd
