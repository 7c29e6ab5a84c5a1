// Choosing the read engine: io_uring when it works, pread otherwise, RDD_IO to force either.
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "read_engine.hpp"
#include "reflinkdedup/hash/hasher.hpp"
#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::hash {

EngineChoice engine_choice_from_env(EngineChoice fallback) {
    const char* value = std::getenv("RDD_IO");
    if (value == nullptr || *value == '\0') return fallback;
    const std::string v(value);
    if (v == "pread") return EngineChoice::Pread;
    if (v == "io_uring") return EngineChoice::IoUring;
    throw std::invalid_argument("RDD_IO must be \"io_uring\" or \"pread\", not \"" + v + "\"");
}

namespace detail {

EngineStart start_engine(EngineChoice choice, unsigned depth, unsigned pread_threads) {
    std::string note;
    if (choice == EngineChoice::Auto) {
        choice = engine_choice_from_env(EngineChoice::Auto);
        if (choice == EngineChoice::Pread) note = "RDD_IO=pread";
    } else if (choice == EngineChoice::Pread) {
        note = "pread requested";
    }
    if (choice != EngineChoice::Pread) {
        try {
            return {make_uring_engine(depth), ""};
        } catch (const SysError& e) {
            if (choice == EngineChoice::IoUring) throw;
            // ENOSYS (no io_uring), EPERM (io_uring_disabled, seccomp), ENOMEM (memlock).
            note = e.operation() + ": " + errno_text(e.err());
        }
    }
    return {make_pread_engine(pread_threads), note};
}

}  // namespace detail
}  // namespace rdd::hash
