#pragma once
// Refuses to dedupe on btrfs under a kernel with a known btrfs corruption bug that dedupe
// runs into (ops/kernel_bugs.hpp), unless --allow-buggy-kernel says the admin knows better
// (a distribution kernel with the fix backported).
#include <boost/program_options/options_description.hpp>
#include <string>

namespace rdd::cli {

// Adds --allow-buggy-kernel, bound to `allow`.
void add_kernel_check_option(boost::program_options::options_description& opts, bool& allow);

// When `path` is on btrfs and the running kernel has a known bug: throws InputError (exit 2)
// naming the bugs, or with `allow` logs a warning. Elsewhere (XFS, a path that does not
// exist yet: the command reports that itself) it does nothing.
void check_kernel_for_dedupe(const std::string& path, bool allow);

}  // namespace rdd::cli
