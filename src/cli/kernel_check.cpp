#include "kernel_check.hpp"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/utsname.h>

#include <boost/program_options.hpp>
#include <fstream>
#include <iterator>

#include "output.hpp"
#include "reflinkdedup/app/input_error.hpp"
#include "reflinkdedup/ops/kernel_bugs.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

namespace {

std::string read_small_file(const char* path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

void add_kernel_check_option(po::options_description& opts, bool& allow) {
    opts.add_options()("allow-buggy-kernel", po::bool_switch(&allow),
                       "dedupe on btrfs even under a kernel with a known btrfs corruption bug "
                       "(for distribution kernels that carry the fix)");
}

void check_kernel_for_dedupe(const std::string& path, bool allow) {
    struct statfs sfs {};
    if (::statfs(path.c_str(), &sfs) != 0 || sfs.f_type != BTRFS_SUPER_MAGIC) return;
    struct utsname u {};
    if (::uname(&u) != 0) return;
    const auto version = ops::upstream_kernel_version(u.release, u.version, read_small_file("/proc/version_signature"));
    if (!version) {
        log_debug(std::string("kernel release '") + u.release + "' not understood: no btrfs bug check");
        return;
    }
    const auto bugs = ops::btrfs_dedupe_bugs(*version);
    if (bugs.empty()) {
        log_debug("kernel " + ops::to_string(*version) + ": no known btrfs dedupe corruption bug");
        return;
    }
    std::string what = "kernel " + ops::to_string(*version) + " (" + u.release + ") has known btrfs bugs: ";
    for (std::size_t i = 0; i < bugs.size(); ++i) {
        what += (i ? "; " : "") + std::string(bugs[i]->summary) + " (" + ops::fixed_versions_text(*bugs[i]) +
                ", commit " + std::string(bugs[i]->fix_commit.substr(0, bugs[i]->fix_commit.find(' '))) + ")";
    }
    if (allow) {
        log_warning(what + "; deduping anyway (--allow-buggy-kernel)");
        return;
    }
    throw InputError("refusing to dedupe on btrfs: " + what +
                     ". Upgrade the kernel, or pass --allow-buggy-kernel if it carries the fixes");
}

}  // namespace rdd::cli
