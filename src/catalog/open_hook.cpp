#include "reflinkdedup/catalog/open_hook.hpp"

#include <utility>

namespace rdd::catalog {

namespace {
WriterOpenHook& current() {
    static WriterOpenHook hook;
    return hook;
}
}  // namespace

ScopedWriterOpenHook::ScopedWriterOpenHook(WriterOpenHook hook) : previous_(std::exchange(current(), std::move(hook))) {}

ScopedWriterOpenHook::~ScopedWriterOpenHook() { current() = std::move(previous_); }

void detail::run_writer_open_hook(Catalog& cat) {
    // A copy: the hook may itself install another one (or open another catalog).
    const WriterOpenHook hook = current();
    if (hook) hook(cat);
}

}  // namespace rdd::catalog
