#include "reflinkdedup/scan/path_filter.hpp"

#include <gtest/gtest.h>

namespace rdd {
namespace {

TEST(PathFilter, NamePatternsMatchAtAnyDepth) {
    const PathFilter f({"*.tmp", ".cache"});
    EXPECT_TRUE(f.excluded("x.tmp"));
    EXPECT_TRUE(f.excluded("a/b/x.tmp"));
    EXPECT_TRUE(f.excluded("home/u/.cache"));
    EXPECT_FALSE(f.excluded("home/u/.cache2"));
    EXPECT_FALSE(f.excluded("x.tmp.gz"));
}

TEST(PathFilter, WildcardsDoNotCrossSlashesButMatchLeadingDots) {
    const PathFilter f({"/home/*/Downloads"});
    EXPECT_TRUE(f.excluded("home/u/Downloads"));
    EXPECT_FALSE(f.excluded("home/u/x/Downloads"));
    EXPECT_TRUE(PathFilter({"*.tmp"}).excluded("a/.x.tmp"));  // leading dots match, as in rsync
}

TEST(PathFilter, AnchoredPatternsMatchOnlyFromTheRoot) {
    const PathFilter f({"/var/cache"});
    EXPECT_TRUE(f.excluded("var/cache"));
    EXPECT_FALSE(f.excluded("srv/var/cache"));
}

TEST(PathFilter, SlashPatternsMatchPathSuffixesAtComponentBoundaries) {
    const PathFilter f({"var/cache/"});
    EXPECT_TRUE(f.excluded("var/cache"));
    EXPECT_TRUE(f.excluded("machine1/var/cache"));
    EXPECT_FALSE(f.excluded("machine1/xvar/cache"));
    EXPECT_FALSE(f.excluded("var/cache2"));
}

TEST(PathFilter, EmptyAndRootPatternsAreIgnored) {
    const PathFilter f({"", "/"});
    EXPECT_TRUE(f.empty());
    EXPECT_FALSE(f.excluded("anything"));
}

}  // namespace
}  // namespace rdd
