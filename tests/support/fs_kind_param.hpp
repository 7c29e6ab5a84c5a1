#pragma once
// gtest parameterization over FsKind, so each test runs on btrfs and XFS and is named
// "Suite.Test/btrfs" / "Suite.Test/xfs".
#include <array>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "support/loop_filesystem.hpp"  // FsKind, to_string(FsKind), RDD_REQUIRE_LOOP_FS

namespace rdd::test {

inline constexpr std::array<FsKind, 2> kAllFsKinds{FsKind::Btrfs, FsKind::Xfs};

// Name generator for INSTANTIATE_TEST_SUITE_P: "btrfs" / "xfs".
struct FsKindParamName {
    std::string operator()(const ::testing::TestParamInfo<FsKind>& info) const {
        return std::string(to_string(info.param));
    }
};

// Fixture that mounts a fresh filesystem of GetParam() kind per test (or skips / fails via
// RDD_REQUIRE_LOOP_FS). Override loop_fs_options() for a different size or mount options.
class LoopFsTest : public ::testing::TestWithParam<FsKind> {
protected:
    void SetUp() override {
        RDD_REQUIRE_LOOP_FS(GetParam());
        fs_.emplace(GetParam(), loop_fs_options());
    }
    void TearDown() override { fs_.reset(); }

    [[nodiscard]] virtual LoopFsOptions loop_fs_options() const { return {}; }
    [[nodiscard]] LoopFilesystem& fs() { return *fs_; }
    // fs().mount_point() / relative
    [[nodiscard]] std::filesystem::path path(const std::filesystem::path& relative) const {
        return fs_->path(relative);
    }

    std::optional<LoopFilesystem> fs_;
};

}  // namespace rdd::test

// Instantiates a TEST_P suite for every FsKind with the readable names above.
#define RDD_INSTANTIATE_FOR_EACH_FS_KIND(suite)                                            \
    INSTANTIATE_TEST_SUITE_P(, suite, ::testing::ValuesIn(::rdd::test::kAllFsKinds), \
                             ::rdd::test::FsKindParamName{})
