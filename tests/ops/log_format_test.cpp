#include <gtest/gtest.h>

#include "reflinkdedup/ops/log_format.hpp"

namespace rdd::ops {
namespace {

TEST(LogFormat, SdDaemonPrefixes) {
    EXPECT_EQ(priority_prefix(Priority::error), "<3>");
    EXPECT_EQ(priority_prefix(Priority::warning), "<4>");
    EXPECT_EQ(priority_prefix(Priority::notice), "<5>");
    EXPECT_EQ(priority_prefix(Priority::info), "<6>");
    EXPECT_EQ(priority_prefix(Priority::debug), "<7>");
}

TEST(LogFormat, JournalStreamMustNameStderr) {
    EXPECT_TRUE(journal_stream_matches("8:12345", 8, 12345));
    EXPECT_FALSE(journal_stream_matches("8:12345", 8, 12346));  // inherited, stderr redirected
    EXPECT_FALSE(journal_stream_matches("9:12345", 8, 12345));
    EXPECT_FALSE(journal_stream_matches(std::nullopt, 8, 12345));
    EXPECT_FALSE(journal_stream_matches("", 0, 0));
    EXPECT_FALSE(journal_stream_matches("8", 8, 0));
    EXPECT_FALSE(journal_stream_matches("8:12345x", 8, 12345));
    EXPECT_FALSE(journal_stream_matches(":12345", 0, 12345));
    EXPECT_TRUE(journal_stream_matches("0:0", 0, 0));
}

}  // namespace
}  // namespace rdd::ops
