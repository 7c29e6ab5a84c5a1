// The configuration file (/etc/reflinkdedup.conf) as dedup-vol reads it: the real lists of
// settable and refused names, an options table of the same shape as the command's (strings,
// a repeatable one, switches, a number with a default). Whatever the file holds, the result
// is a ConfigError or options this command knows, which store without error; the unit
// values then go through the same parsers as on the command line.
#include <sys/mman.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <string>

#include "config_keys.hpp"
#include "fuzz_check.hpp"
#include "parse_units.hpp"
#include "reflinkdedup/ops/config_file.hpp"

namespace po = boost::program_options;

namespace {

po::options_description dedup_vol_options() {
    po::options_description o;
    o.add_options()("help,h", "")("db", po::value<std::string>(), "")("block-size", po::value<std::string>(), "")
        ("reset-block-size", po::bool_switch(), "")("min-size", po::value<std::string>(), "")
        ("exclude", po::value<std::vector<std::string>>(), "")("wait", po::value<std::string>(), "")
        ("io", po::value<std::string>(), "")("rehash", po::bool_switch(), "")("recursive,r", po::bool_switch(), "")
        ("ro-snapshots", po::value<std::string>()->default_value("source-only"), "")("walk", po::bool_switch(), "")
        ("dry-run,n", po::bool_switch(), "")("lock", po::value<std::string>()->default_value("lease"), "")
        ("state-dir", po::value<std::string>(), "")("max-runtime", po::value<std::string>(), "")
        ("keep-zeros", po::bool_switch(), "")("max-move-ratio", po::value<double>()->default_value(2.0), "")
        ("json", po::bool_switch(), "")("allow-buggy-kernel", po::bool_switch(), "")
        ("config", po::value<std::string>(), "")("verbose,v", po::bool_switch(), "")("quiet,q", po::bool_switch(), "");
    return o;
}

const po::options_description& options() {
    static const po::options_description o = dedup_vol_options();
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // read_config_file takes a path: the input goes to an in-memory file.
    const int fd = ::memfd_create("rdd-fuzz-config", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(::write(fd, data, size) == static_cast<ssize_t>(size));
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    const auto keys = rdd::cli::config_keys();
    try {
        const po::parsed_options parsed = rdd::ops::read_config_file(path, options(), keys);
        po::variables_map vm;
        po::store(parsed, vm);
        po::notify(vm);
        for (const po::option& opt : parsed.options) {
            FUZZ_CHECK(!opt.unregistered);
            FUZZ_CHECK(options().find_nothrow(opt.string_key, false) != nullptr);
            FUZZ_CHECK(std::find(keys.refused.begin(), keys.refused.end(), opt.string_key) == keys.refused.end());
        }
        for (const char* name : {"block-size", "min-size"}) {
            if (vm.count(name)) (void)rdd::cli::parse_size(vm[name].as<std::string>());
        }
        for (const char* name : {"wait", "max-runtime"}) {
            if (vm.count(name)) (void)rdd::cli::parse_duration(vm[name].as<std::string>());
        }
    } catch (const rdd::ops::ConfigError&) {
    }
    ::close(fd);
    return 0;
}
