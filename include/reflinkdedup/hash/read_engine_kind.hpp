#pragma once
// Which read engine the hasher uses, and how the caller chooses it.
#include <string_view>

namespace rdd::hash {

enum class EngineKind { IoUring, Pread };

enum class EngineChoice {
    Auto,     // io_uring unless RDD_IO=pread or io_uring_queue_init fails (ENOSYS, EPERM, ...)
    IoUring,  // io_uring or throw SysError (tests that must exercise io_uring)
    Pread,    // the pread thread pool, always
};

// "io_uring" / "pread": the names RDD_IO accepts and the --json report prints.
[[nodiscard]] constexpr std::string_view to_string(EngineKind kind) noexcept {
    return kind == EngineKind::IoUring ? "io_uring" : "pread";
}

}  // namespace rdd::hash
