#include "reflinkdedup/btrfs/errors.hpp"

#include <cerrno>

namespace rdd::btrfs {

NeedsRootError::NeedsRootError(const std::string& what_needs_root, const std::string& path)
    : SysError(EPERM, what_needs_root, path),
      message_((path.empty() ? std::string() : path + ": ") + what_needs_root +
               " needs root (CAP_SYS_ADMIN)") {}

void throw_ioctl_error(int err, const std::string& operation, const std::string& what_needs_root,
                       const std::string& path) {
    if (err == EPERM) throw NeedsRootError(what_needs_root, path);
    throw SysError(err, operation, path);
}

}  // namespace rdd::btrfs
