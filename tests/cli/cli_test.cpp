// The real binary's command line: --help of every command (examples, exit codes), a bad option
// (exit 2 and one line), a mistyped command, --version, the configuration file, journal
// priority prefixes, and the exit codes that need no filesystem of their own: 2, 3 (the test
// holds the catalog's writer lock), 5 (a damaged catalog). tests/cli/cli_loopfs_test.cpp does
// the rest on real btrfs and XFS.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>

#include "../integration/cli_runner.hpp"
#include "config_keys.hpp"
#include "json_schema_doc.hpp"
#include "reflinkdedup/catalog/catalog.hpp"
#include "spawned.hpp"
#include "support/loop_filesystem.hpp"  // TempDir

namespace rdd::test {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kCommands{"scan-vol", "dedup-vol", "dedup-files", "report",
                                         "show-vols", "reset",    "recover",     "find-new"};

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::string line;
    std::istringstream in(text);
    while (std::getline(in, line)) out.push_back(line);
    return out;
}

// "--name" options a help text lists (the options table: lines starting with spaces and -).
std::set<std::string> help_options(const std::string& help) {
    std::set<std::string> names;
    static const std::regex option(R"(^\s+(?:-\w \[ )?--([a-z][a-z0-9-]*))");
    for (const std::string& l : lines(help)) {
        std::smatch m;
        if (std::regex_search(l, m, option)) names.insert(m[1]);
    }
    return names;
}

class Cli : public ::testing::Test {
protected:
    fs::path file(const std::string& name, const std::string& content) {
        const fs::path p = tmp_.path() / name;
        std::ofstream(p) << content;
        return p;
    }
    TempDir tmp_{test_tmp_base()};
};

TEST_F(Cli, TopLevelHelpListsEveryCommandAndExitCode) {
    const CliRun r = run_reflinkdedup({"--help"});
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    for (const auto& c : kCommands) EXPECT_NE(r.process.out.find("\n  " + c + " "), std::string::npos) << c;
    for (int code = 0; code <= 5; ++code) {
        EXPECT_NE(r.process.out.find("\n  " + std::to_string(code) + "  "), std::string::npos) << code;
    }
    EXPECT_NE(r.process.out.find("/etc/reflinkdedup.conf"), std::string::npos);
    EXPECT_NE(r.process.out.find("Examples:"), std::string::npos);
    // No command: the usage on stderr, exit 2.
    const CliRun none = run_reflinkdedup({});
    EXPECT_EQ(none.process.exit_code, 2);
    EXPECT_NE(none.process.err.find("Usage: reflinkdedup COMMAND"), std::string::npos);
}

TEST_F(Cli, EveryCommandHelpHasUsageExamplesAndExitStatus) {
    for (const auto& c : kCommands) {
        const CliRun r = run_reflinkdedup({c, "--help"});
        EXPECT_EQ(r.process.exit_code, 0) << describe(r);
        EXPECT_TRUE(r.process.err.empty()) << c << ": " << r.process.err;
        const std::string& h = r.process.out;
        EXPECT_EQ(h.rfind("Usage: reflinkdedup " + c, 0), 0u) << h;
        EXPECT_NE(h.find("Exit status"), std::string::npos) << c;
        const auto examples = h.find("\nExamples:\n");
        ASSERT_NE(examples, std::string::npos) << c << " has no examples";
        EXPECT_NE(h.find("  reflinkdedup " + c, examples), std::string::npos) << c;
        EXPECT_TRUE(help_options(h).count("config")) << c;
        EXPECT_TRUE(help_options(h).count("help")) << c;
        // -h too.
        EXPECT_EQ(run_reflinkdedup({c, "-h"}).process.out, h) << c;
    }
}

TEST_F(Cli, BadOptionIsOneLineAndExit2) {
    for (const auto& c : kCommands) {
        const CliRun r = run_reflinkdedup({c, "--no-such-option"});
        EXPECT_EQ(r.process.exit_code, 2) << describe(r);
        EXPECT_TRUE(r.process.out.empty()) << describe(r);
        const auto err = lines(r.process.err);
        ASSERT_EQ(err.size(), 1u) << describe(r);
        EXPECT_EQ(err[0].rfind("reflinkdedup: " + c + ": ", 0), 0u) << err[0];
        EXPECT_NE(err[0].find("--no-such-option"), std::string::npos) << err[0];
        // An option that needs a value, without one.
        const CliRun missing = run_reflinkdedup({c, "--config"});
        EXPECT_EQ(missing.process.exit_code, 2) << describe(missing);
        EXPECT_EQ(lines(missing.process.err).size(), 1u) << describe(missing);
    }
}

TEST_F(Cli, MistypedCommandGetsASuggestion) {
    const CliRun r = run_reflinkdedup({"dedup-vlo", "/x"});
    EXPECT_EQ(r.process.exit_code, 2);
    ASSERT_EQ(lines(r.process.err).size(), 1u) << describe(r);
    EXPECT_NE(r.process.err.find("did you mean 'dedup-vol'?"), std::string::npos) << r.process.err;
    EXPECT_NE(run_reflinkdedup({"reprot"}).process.err.find("did you mean 'report'?"), std::string::npos);
    const CliRun far = run_reflinkdedup({"frobnicate"});
    EXPECT_EQ(far.process.exit_code, 2);
    EXPECT_EQ(far.process.err.find("did you mean"), std::string::npos);
}

TEST_F(Cli, Version) {
    const CliRun r = run_reflinkdedup({"--version"});
    EXPECT_EQ(r.process.exit_code, 0);
    EXPECT_EQ(r.process.out, "reflinkdedup " RDD_VERSION "\n");
    EXPECT_EQ(run_reflinkdedup({"-V"}).process.out, r.process.out);
}

// Every option of every command is either settable in the configuration file or refused
// there, and every settable name is some command's option: a new option must be placed.
TEST_F(Cli, ConfigKeysCoverEveryOption) {
    const ops::ConfigKeys keys = cli::config_keys();
    std::set<std::string> all;
    for (const auto& c : kCommands) {
        for (const std::string& o : help_options(run_reflinkdedup({c, "--help"}).process.out)) {
            all.insert(o);
            const bool settable = std::find(keys.settable.begin(), keys.settable.end(), o) != keys.settable.end();
            const bool refused = std::find(keys.refused.begin(), keys.refused.end(), o) != keys.refused.end();
            EXPECT_TRUE(settable != refused) << c << " --" << o << ": in " << (settable ? "both lists" : "neither list")
                                             << " of src/cli/config_keys.cpp";
        }
    }
    for (const auto& k : keys.settable) EXPECT_TRUE(all.count(std::string(k))) << k << " is no command's option";
}

// The man page documents every command, every option of every command and every exit code.
TEST_F(Cli, ManPageCoversEveryCommandOptionAndExitCode) {
    std::ifstream in(RDD_MAN_PAGE);
    const std::string man{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    ASSERT_FALSE(man.empty());
    const auto roff = [](std::string s) {  // roff spells '-' as "\-"
        std::string out;
        for (const char c : s) out += c == '-' ? std::string("\\-") : std::string(1, c);
        return out;
    };
    for (const auto& c : kCommands) {
        EXPECT_NE(man.find(".B reflinkdedup " + roff(c)), std::string::npos) << c << " not in the SYNOPSIS";
        for (const std::string& o : help_options(run_reflinkdedup({c, "--help"}).process.out)) {
            EXPECT_NE(man.find(roff("--" + o)), std::string::npos) << c << " --" << o << " not in the man page";
        }
    }
    const auto exit_status = man.find(".SH EXIT STATUS");
    ASSERT_NE(exit_status, std::string::npos);
    for (int code = 0; code <= 5; ++code) {
        EXPECT_NE(man.find(".B " + std::to_string(code) + "\n", exit_status), std::string::npos) << code;
    }
}

// packaging/reflinkdedup.conf with every example line switched on is a valid configuration
// for every command (names and values).
TEST_F(Cli, ExampleConfigIsValid) {
    std::ifstream in(RDD_EXAMPLE_CONFIG);
    std::string line, all;
    int settings = 0;
    while (std::getline(in, line)) {
        if (line.size() > 1 && line[0] == '#' && std::islower(static_cast<unsigned char>(line[1]))) {
            all += line.substr(1) + "\n";
            ++settings;
        }
    }
    EXPECT_GE(settings, 10);
    const fs::path conf = file("example.conf", all);
    const std::string missing = (tmp_.path() / "missing").string();
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"scan-vol", missing}, {"dedup-vol", missing}, {"dedup-files", missing, missing},
          {"report", "--db", missing}, {"show-vols", "--db", missing}, {"reset", "--db", missing, "1"},
          {"find-new", missing, "1"}}) {
        std::vector<std::string> argv = args;
        argv.insert(argv.begin() + 1, {"--config", conf.string()});
        const CliRun r = run_reflinkdedup(argv);
        EXPECT_EQ(r.process.err.find(conf.string()), std::string::npos) << args[0] << ": " << describe(r);
        EXPECT_NE(r.process.err.find(missing), std::string::npos) << args[0] << ": " << describe(r);
    }
}

TEST_F(Cli, ConfigFileSetsDefaultsAndCommandLineWins) {
    const fs::path a = file("a", "same"), b = file("b", "same");
    const fs::path conf = file("rdd.conf", "# nightly\nlock = bogus\n");
    // The file's value is used...
    const CliRun from_file =
        run_reflinkdedup({"dedup-files", "--config", conf.string(), a.string(), b.string()});
    EXPECT_EQ(from_file.process.exit_code, 2) << describe(from_file);
    EXPECT_NE(from_file.process.err.find("--lock must be lease, immutable or none"), std::string::npos)
        << describe(from_file);
    // ...unless the command line says otherwise (this then fails on the temp filesystem, or
    // succeeds where the temp dir can share extents: either way not on --lock).
    const CliRun overridden =
        run_reflinkdedup({"dedup-files", "--config", conf.string(), "--lock", "none", "--dry-run", a.string(), b.string()});
    EXPECT_EQ(overridden.process.err.find("--lock"), std::string::npos) << describe(overridden);
    // Other commands skip options they do not take.
    const CliRun other = run_reflinkdedup({"show-vols", "--config", conf.string(), "--db", (tmp_.path() / "none").string()});
    EXPECT_EQ(other.process.err.find("lock"), std::string::npos) << describe(other);
}

TEST_F(Cli, BadConfigFileIsOneLineAndExit2) {
    const auto check = [&](const std::string& content, const std::string& expected) {
        const fs::path conf = file("bad.conf", content);
        const CliRun r = run_reflinkdedup({"report", "--config", conf.string(), "--db", "/nonexistent/x.sqlite"});
        EXPECT_EQ(r.process.exit_code, 2) << describe(r);
        const auto err = lines(r.process.err);
        ASSERT_EQ(err.size(), 1u) << describe(r);
        EXPECT_EQ(err[0].rfind("reflinkdedup: " + conf.string() + ": ", 0), 0u) << err[0];
        EXPECT_NE(err[0].find(expected), std::string::npos) << err[0];
    };
    check("lokc = lease\n", "unknown option 'lokc'");
    check("all = true\n", "'all' can only be given on the command line");
    check("not an option line\n", "invalid line");
    check("quiet = perhaps\n", "quiet");
    // A chosen file must exist; -v and -q exclude each other.
    const CliRun missing = run_reflinkdedup({"report", "--config", (tmp_.path() / "none.conf").string(), "--db", "x"});
    EXPECT_EQ(missing.process.exit_code, 2);
    EXPECT_NE(missing.process.err.find("cannot read it"), std::string::npos) << describe(missing);
    EXPECT_EQ(run_reflinkdedup({"report", "-v", "-q", "--db", "x"}).process.exit_code, 2);
}

// Under systemd, stderr is the journal and JOURNAL_STREAM names it: lines get "<N>".
TEST_F(Cli, JournalPriorityPrefixOnlyWhenStderrIsTheJournal) {
    const fs::path out = tmp_.path() / "out", err = tmp_.path() / "err";
    std::ofstream(err).flush();  // Spawned truncates it again: same inode
    struct stat st {};
    ASSERT_EQ(::stat(err.c_str(), &st), 0);
    const std::string stderr_id = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    const auto run = [&](const std::string& journal_stream) {
        Spawned p({RDD_BINARY, "report", "--db", (tmp_.path() / "missing.sqlite").string()}, out, err,
                  {"JOURNAL_STREAM=" + journal_stream});
        return p.wait();
    };
    const ProcessResult journal = run(stderr_id);
    EXPECT_EQ(journal.exit_code, 2);
    EXPECT_EQ(journal.err.rfind("<3>reflinkdedup: ", 0), 0u) << journal.err;
    // Inherited from a parent whose stderr was the journal, but ours goes elsewhere: plain.
    const ProcessResult other = run("1:2");
    EXPECT_EQ(other.err.rfind("reflinkdedup: ", 0), 0u) << other.err;
    const CliRun plain = run_reflinkdedup({"report", "--db", (tmp_.path() / "missing.sqlite").string()});
    EXPECT_EQ(plain.process.err.rfind("reflinkdedup: ", 0), 0u) << plain.process.err;
}

// Exit 3: another process (this test) holds the catalog's writer lock.
TEST_F(Cli, CatalogBusyIsExit3) {
    const fs::path db = tmp_.path() / "c.sqlite";
    catalog::OpenOptions o;
    o.block_size = 65536;
    const catalog::Catalog held = catalog::Catalog::open_writer(db, o);
    const CliRun reset = run_reflinkdedup({"reset", "--all", "--db", db.string()});
    EXPECT_EQ(reset.process.exit_code, 3) << describe(reset);
    ASSERT_EQ(lines(reset.process.err).size(), 1u) << describe(reset);
    EXPECT_NE(reset.process.err.find(db.string() + ".lock"), std::string::npos) << describe(reset);
    // Readers do not wait for the writer.
    const CliRun report = run_reflinkdedup({"report", "--json", "--db", db.string()});
    EXPECT_EQ(report.process.exit_code, 0) << describe(report);
    EXPECT_EQ(run_reflinkdedup({"show-vols", "--db", db.string()}).process.exit_code, 0);
}

// Exit 5: a damaged catalog (not an SQLite file).
TEST_F(Cli, DamagedCatalogIsExit5) {
    const fs::path db = file("junk.sqlite", std::string(8192, 'x'));
    for (const std::string c : {"show-vols", "report"}) {
        const CliRun r = run_reflinkdedup({c, "--db", db.string()});
        EXPECT_EQ(r.process.exit_code, 5) << describe(r);
        ASSERT_EQ(lines(r.process.err).size(), 1u) << describe(r);
        EXPECT_NE(r.process.err.find(db.string()), std::string::npos) << describe(r);
        EXPECT_EQ(r.process.err.find("internal error"), std::string::npos) << describe(r);
    }
}

// Exit 2 for input errors other than options: no catalog yet, a path that is not a directory.
TEST_F(Cli, InputErrorsAreExit2) {
    const CliRun no_catalog = run_reflinkdedup({"report", "--db", (tmp_.path() / "none.sqlite").string()});
    EXPECT_EQ(no_catalog.process.exit_code, 2) << describe(no_catalog);
    EXPECT_NE(no_catalog.process.err.find("no catalog yet"), std::string::npos);
    const CliRun not_dir = run_reflinkdedup({"scan-vol", (tmp_.path() / "nothing-here").string()});
    EXPECT_EQ(not_dir.process.exit_code, 2) << describe(not_dir);
    EXPECT_EQ(lines(not_dir.process.err).size(), 1u) << describe(not_dir);
}

// The report of an empty catalog against the documented schema (needs no filesystem).
TEST_F(Cli, ReportJsonOfEmptyCatalogFollowsTheSchema) {
    const fs::path db = tmp_.path() / "c.sqlite";
    catalog::OpenOptions o;
    o.block_size = 65536;
    { const catalog::Catalog created = catalog::Catalog::open_writer(db, o); }
    const CliRun r = run_reflinkdedup({"report", "--json", "--db", db.string()});
    ASSERT_EQ(r.process.exit_code, 0) << describe(r);
    const JsonSchemaDoc doc = read_json_schema_doc(RDD_JSON_SCHEMA_DOC);
    EXPECT_EQ(check_against_doc(doc, "report", r.json), std::vector<std::string>{}) << r.process.out;
    EXPECT_TRUE(r.json["freed_bytes"].is_null());
    EXPECT_EQ(r.json["block_size"], 65536);
}

}  // namespace
}  // namespace rdd::test
