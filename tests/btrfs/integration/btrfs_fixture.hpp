#pragma once
// A fresh loop-mounted btrfs per test, plus small helpers the btrfs tests share.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reflinkdedup/btrfs/subvolume.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "reflinkdedup/util/unique_fd.hpp"
#include "support/loop_filesystem.hpp"
#include "support/process.hpp"

namespace rdd::btrfs::test {

using rdd::test::run_checked;
using rdd::test::run_process;

class BtrfsTest : public ::testing::Test {
protected:
    void SetUp() override {
        RDD_REQUIRE_LOOP_FS(rdd::test::FsKind::Btrfs);
        fs_.emplace(rdd::test::FsKind::Btrfs, rdd::test::LoopFsOptions{});
    }
    void TearDown() override { fs_.reset(); }

    [[nodiscard]] rdd::test::LoopFilesystem& fs() { return *fs_; }
    [[nodiscard]] std::filesystem::path path(const std::filesystem::path& rel) const {
        return fs_->path(rel);
    }

    // `btrfs subvolume create` (btrfs-progs, not our code).
    std::filesystem::path create_subvolume(const std::string& rel) {
        run_checked({"btrfs", "-q", "subvolume", "create", path(rel).string()});
        return path(rel);
    }
    std::filesystem::path snapshot(const std::string& from, const std::string& to, bool read_only) {
        std::vector<std::string> argv{"btrfs", "-q", "subvolume", "snapshot"};
        if (read_only) argv.emplace_back("-r");
        argv.push_back(path(from).string());
        argv.push_back(path(to).string());
        run_checked(argv);
        return path(to);
    }

    // The generation btrfs-progs reports after committing ("transid marker was N").
    [[nodiscard]] std::uint64_t progs_generation(const std::filesystem::path& subvol) {
        const auto r = run_checked({"btrfs", "subvolume", "find-new", subvol.string(),
                                    "18446744073709551614"});  // progs refuses 2^64-1
        const std::string prefix = "transid marker was ";
        const auto at = r.out.rfind(prefix);
        if (at == std::string::npos) throw std::runtime_error("no transid marker in: " + r.out);
        return std::stoull(r.out.substr(at + prefix.size()));
    }

    static UniqueFd open_dir(const std::filesystem::path& p) {
        UniqueFd fd(::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd) throw_errno("open", p);
        return fd;
    }

    static void write_text(const std::filesystem::path& p, const std::string& text,
                           bool append = false) {
        std::ofstream out(
            p, append ? std::ios::app | std::ios::binary : std::ios::trunc | std::ios::binary);
        out << text;
        if (!out) throw std::runtime_error("cannot write " + p.string());
    }

    // Overwrites `length` bytes at `offset` without truncating (an in-place write).
    static void overwrite(const std::filesystem::path& p, std::uint64_t offset, std::size_t length,
                          char fill) {
        const UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd) throw_errno("open", p);
        const std::string data(length, fill);
        if (::pwrite(fd.get(), data.data(), data.size(), static_cast<off_t>(offset)) !=
            static_cast<ssize_t>(data.size())) {
            throw_errno("pwrite", p);
        }
    }

    [[nodiscard]] static std::uint64_t ino_of(const std::filesystem::path& p) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) throw_errno("lstat", p);
        return st.st_ino;
    }

    std::optional<rdd::test::LoopFilesystem> fs_;
};

}  // namespace rdd::btrfs::test
