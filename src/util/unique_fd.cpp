#include "reflinkdedup/util/unique_fd.hpp"

#include <unistd.h>

namespace rdd {

void UniqueFd::reset(int fd) noexcept {
    if (fd_ >= 0) {
        // close() is not retried on EINTR: on Linux the descriptor is released regardless.
        ::close(fd_);
    }
    fd_ = fd;
}

}  // namespace rdd
