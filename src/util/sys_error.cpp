#include "reflinkdedup/util/sys_error.hpp"

#include <cerrno>
#include <cstring>

namespace rdd {

namespace {
std::string format(int err, const std::string& operation, const std::string& path) {
    std::string text = path.empty() ? operation : path + ": " + operation;
    return text + ": " + errno_text(err);
}
}  // namespace

SysError::SysError(int err, std::string operation, std::string path)
    : std::runtime_error(format(err, operation, path)),
      err_(err),
      operation_(std::move(operation)),
      path_(std::move(path)) {}

void throw_errno(const std::string& operation, const std::string& path) {
    throw SysError(errno, operation, path);
}

std::string errno_text(int err) {
    char buf[256];
    // GNU strerror_r returns the message pointer (which may not be buf).
    const char* msg = ::strerror_r(err, buf, sizeof buf);
    return msg;
}

}  // namespace rdd
