#include <gtest/gtest.h>

#include "reflinkdedup/lock/lock_method.hpp"
#include "reflinkdedup/lock/recover.hpp"

namespace rdd::lock {
namespace {

TEST(LockMethod, ParseAndPrintRoundTrip) {
    for (const auto m : {LockMethod::Lease, LockMethod::Immutable, LockMethod::None}) {
        EXPECT_EQ(parse_lock_method(to_string(m)), m);
    }
    EXPECT_EQ(kDefaultLockMethod, LockMethod::Lease);
    EXPECT_EQ(parse_lock_method("lease"), LockMethod::Lease);
    EXPECT_EQ(parse_lock_method("immutable"), LockMethod::Immutable);
    EXPECT_EQ(parse_lock_method("none"), LockMethod::None);
}

TEST(LockMethod, RejectsUnknownSpellings) {
    EXPECT_EQ(parse_lock_method(""), std::nullopt);
    EXPECT_EQ(parse_lock_method("Lease"), std::nullopt);
    EXPECT_EQ(parse_lock_method("lease "), std::nullopt);
    EXPECT_EQ(parse_lock_method("flock"), std::nullopt);
}

TEST(RecoverOutcome, HasNames) {
    EXPECT_EQ(to_string(RecoverOutcome::Replaced), "replaced");
    EXPECT_EQ(to_string(RecoverOutcome::AlreadyOriginal), "already original");
}

}  // namespace
}  // namespace rdd::lock
