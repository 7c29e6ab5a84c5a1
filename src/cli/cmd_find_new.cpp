// reflinkdedup find-new SUBVOL GEN [--all-changes]
#include <fcntl.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <charconv>
#include <iostream>
#include <string_view>

#include "command.hpp"
#include "command_line.hpp"
#include "reflinkdedup/app/exit_codes.hpp"
#include "reflinkdedup/app/input_error.hpp"
#include "reflinkdedup/btrfs/find_new.hpp"
#include "reflinkdedup/btrfs/subvolume.hpp"
#include "reflinkdedup/fs/filesystem.hpp"
#include "reflinkdedup/util/sys_error.hpp"
#include "reflinkdedup/util/unique_fd.hpp"
#include "usage_error.hpp"

namespace po = boost::program_options;

namespace rdd::cli {

namespace {

constexpr const char* kHelp = R"(Usage: reflinkdedup find-new [--all-changes] SUBVOL GEN

List what changed in the btrfs subvolume SUBVOL (its root directory) in transaction GEN or
later. GEN is inclusive, as in btrfs-progs: to see what changed after a run that printed
"transid marker was N", pass N+1. GEN is decimal or 0x-prefixed hex. The running
transaction is committed first.

By default the output is that of `btrfs subvolume find-new SUBVOL GEN` (btrfs-progs 6.2), line
for line: one line per data extent written in GEN or later,
  inode INO file offset OFF len LEN disk start BYTENR offset EXTOFF gen GEN flags FLAGS NAME
then "transid marker was N" (the subvolume's current generation).

That listing selects data extents by the transaction that wrote them, so it misses changes
that write no new extent: an in-place write to a NOCOW (chattr +C) file, a reflink copy
(cp --reflink), a clone or dedupe onto a file, chattr/chmod/chown/xattr changes, renames and
new hard links. --all-changes selects inodes by the transaction that last changed them
(INODE_ITEM.transid), which every one of those moves, and prints one line per changed inode
(files, directories, symlinks), in inode order:
  inode INO gen CREATED transid LAST size SIZE mode MODE nlink N flags FLAGS changed WHAT
FLAGS are btrfs inode flags (NODATACOW, NODATASUM, IMMUTABLE, APPEND, COMPRESS, ...) or NONE.
WHAT is a comma-separated list of:
  new          the inode was created in GEN or later
  extents      it has data extents written in GEN or later (what the default listing shows)
  old-extents  it is new, but all of its data is in older extents (reflink copy or clone)
  inode-only   it existed before GEN and changed without any new extent: attributes, mode,
               owner, xattrs, times, a rename or link, an in-place NOCOW write, a dedupe
Then every path of the inode (all hard links, relative to SUBVOL), each after a tab; tab,
newline and backslash in names are written \t, \n and \\. Deleted inodes are not listed (they
no longer exist: compare with a listing from GEN 0, which lists every inode); the last line
is again "transid marker was N".

Needs root (CAP_SYS_ADMIN): the btrfs tree search is privileged.

Exit status:
  0  done
  2  usage or input error: GEN is not a number, SUBVOL is not on btrfs or is not a subvolume
  5  a system error (also: not run as root)

Examples:
  reflinkdedup find-new /backup/host1 0                  # everything, as btrfs-progs lists it
  reflinkdedup find-new --all-changes /backup/host1 1234

Options)";

// Decimal, or 0x-prefixed hex as btrfs-progs also reads it. btrfs-progs takes a leading 0 as
// octal; rather than guess, such input is refused, so equal arguments give equal output.
std::uint64_t parse_generation(const std::string& text) {
    const auto bad = [&text](const std::string& why) {
        return UsageError("find-new: GEN '" + text + "' " + why);
    };
    const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    const std::string_view digits = hex ? std::string_view(text).substr(2) : std::string_view(text);
    if (digits.empty()) throw bad("is not a number (a btrfs generation)");
    if (!hex && digits.size() > 1 && digits[0] == '0') {
        throw bad("has a leading zero, which btrfs-progs reads as octal; write it without");
    }
    std::uint64_t value = 0;
    const auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), value, hex ? 16 : 10);
    if (ec == std::errc::result_out_of_range) throw bad("is too large");
    if (ec != std::errc() || end != digits.data() + digits.size()) {
        throw bad("is not a number (a btrfs generation)");
    }
    return value;
}

UniqueFd open_subvolume(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        const int err = errno;
        if (err == ENOENT) throw InputError(path + ": no such directory");
        if (err == ENOTDIR) throw InputError(path + ": not a btrfs subvolume (not a directory)");
        throw SysError(err, "open", path);
    }
    const FilesystemInfo fs = probe_filesystem(fd.get(), path);
    if (fs.type != FsType::Btrfs)
        throw InputError(path + ": not on btrfs (on " + fs.type_name + ")");
    if (!btrfs::is_subvolume_root(fd.get(), path)) {
        throw InputError(path +
                         ": not a btrfs subvolume (find-new needs the root directory of one)");
    }
    return fd;
}

}  // namespace

int run_find_new(const std::vector<std::string>& args) {
    po::options_description opts(kHelp);
    bool all_changes = false;
    opts.add_options()("help,h", "show this help")(
        "all-changes", po::bool_switch(&all_changes),
        "list every changed inode (INODE_ITEM.transid), including what btrfs-progs misses");
    const auto operands = parse_command_line("find-new", args, opts);
    if (!operands) return to_int(ExitCode::Done);
    const std::vector<std::string>& positional = *operands;
    if (positional.size() != 2) throw UsageError("find-new: needs SUBVOL and GEN");
    const std::string& subvol = positional[0];
    const std::uint64_t gen = parse_generation(positional[1]);

    const UniqueFd fd = open_subvolume(subvol);
    if (all_changes) {
        (void)btrfs::write_all_changes(fd.get(), gen, subvol, std::cout);
    } else {
        (void)btrfs::write_find_new(fd.get(), gen, subvol, std::cout, std::cerr);
    }
    std::cout.flush();
    if (!std::cout) throw SysError(EIO, "write", "standard output");
    return to_int(ExitCode::Done);
}

}  // namespace rdd::cli
