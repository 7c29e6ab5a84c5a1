#pragma once
// A file handed to a locker: the caller's O_RDONLY fd (lockers keep their own duplicate, so the
// caller may close it whenever it likes) and its path for messages.
#include <string>

namespace rdd::lock {

struct LockTarget {
    int fd = -1;
    std::string path;
};

}  // namespace rdd::lock
