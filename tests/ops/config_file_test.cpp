// The configuration file against one command's options, as parse_command_line uses it.
#include <gtest/gtest.h>

#include <array>
#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>

#include "reflinkdedup/ops/config_file.hpp"
#include "support/loop_filesystem.hpp"  // TempDir

namespace po = boost::program_options;

namespace rdd::ops {
namespace {

constexpr std::array<std::string_view, 5> kSettable{"lock", "exclude", "min-size", "dry-run", "io"};
constexpr std::array<std::string_view, 2> kRefused{"all", "help"};

class ConfigFile : public ::testing::Test {
protected:
    void SetUp() override {
        options_.add_options()("help", "")("lock", po::value(&lock_)->default_value("lease"), "")(
            "exclude", po::value(&excludes_), "")("dry-run", po::bool_switch(&dry_run_), "")(
            "all", po::bool_switch(), "");
    }
    std::string write(const std::string& text) {
        const auto p = dir_ / "reflinkdedup.conf";
        std::ofstream(p) << text;
        return p.string();
    }
    // Command line first, then the file: what parse_command_line does.
    void parse(const std::vector<std::string>& args, const std::string& path) {
        po::variables_map vm;
        po::store(po::command_line_parser(args).options(options_).run(), vm);
        po::store(read_config_file(path, options_, {kSettable, kRefused}), vm);
        po::notify(vm);
    }

    rdd::test::TempDir tmp_{rdd::test::test_tmp_base()};
    const std::filesystem::path& dir_ = tmp_.path();
    po::options_description options_;
    std::string lock_;
    std::vector<std::string> excludes_;
    bool dry_run_ = false;
};

TEST_F(ConfigFile, SetsWhatTheCommandLineLeftUnset) {
    parse({}, write("# nightly\nlock = immutable\nexclude = *.tmp\nexclude = /proc\ndry-run = true\n"));
    EXPECT_EQ(lock_, "immutable");
    EXPECT_EQ(excludes_, (std::vector<std::string>{"*.tmp", "/proc"}));
    EXPECT_TRUE(dry_run_);
}

TEST_F(ConfigFile, CommandLineWins) {
    parse({"--lock", "none", "--exclude", "a"}, write("lock = immutable\nexclude = *.tmp\n"));
    EXPECT_EQ(lock_, "none");
    EXPECT_EQ(excludes_, (std::vector<std::string>{"a"}));  // replaced, not added to
}

TEST_F(ConfigFile, OtherCommandsOptionsAreSkipped) {
    parse({}, write("min-size = 64K\nio = pread\nlock = none\n"));
    EXPECT_EQ(lock_, "none");
}

TEST_F(ConfigFile, Errors) {
    const auto message = [&](const std::string& text) {
        try {
            parse({}, write(text));
        } catch (const ConfigError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    const std::string path = (dir_ / "reflinkdedup.conf").string();
    EXPECT_EQ(message("lokc = none\n"), path + ": unknown option 'lokc'");
    EXPECT_EQ(message("all = true\n"), path + ": 'all' can only be given on the command line");
    EXPECT_EQ(message("help = 1\n"), path + ": 'help' can only be given on the command line");
    EXPECT_NE(message("this is not an option line\n").find(path + ": "), std::string::npos);
    EXPECT_NE(message("[dedup-vol]\nlock = none\n").find("unknown option 'dedup-vol.lock'"), std::string::npos);
    EXPECT_THROW((void)read_config_file((dir_ / "missing.conf").string(), options_, {kSettable, kRefused}),
                 ConfigError);
}

TEST_F(ConfigFile, BadValueNamesTheFile) {
    try {
        (void)read_config_file(write("dry-run = maybe\n"), options_, {kSettable, kRefused});
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find((dir_ / "reflinkdedup.conf").string() + ": "), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("dry-run"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace rdd::ops
