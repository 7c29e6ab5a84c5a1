#pragma once
// Typed failures of the btrfs module, so callers can tell "run me as root" and "that is not a
// btrfs subvolume" (the user's input) from real system errors.
#include <stdexcept>
#include <string>

#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::btrfs {

// EPERM from an ioctl that needs CAP_SYS_ADMIN (tree search, INO_PATHS, INO_LOOKUP, subvolume
// iteration). what(): "PATH: tree search needs root (CAP_SYS_ADMIN)".
class NeedsRootError : public SysError {
public:
    NeedsRootError(const std::string& what_needs_root, const std::string& path);
    [[nodiscard]] const char* what() const noexcept override { return message_.c_str(); }

private:
    std::string message_;
};

// The path is on another filesystem ("PATH: not on btrfs (ext4)").
class NotBtrfsError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The path is on btrfs but is not the root directory of a subvolume.
class NotSubvolumeError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A search result or item that does not have the layout its type promises: never read past it.
class MalformedItemError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws NeedsRootError for EPERM (with `what_needs_root`), SysError(err, operation, path)
// otherwise.
[[noreturn]] void throw_ioctl_error(int err, const std::string& operation,
                                    const std::string& what_needs_root, const std::string& path);

}  // namespace rdd::btrfs
