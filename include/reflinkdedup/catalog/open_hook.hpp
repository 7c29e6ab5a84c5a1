#pragma once
// Work every writer open does before handing the catalog out. The catalog module knows nothing
// of locks and flags; the program installs here what must happen once a process holds the
// writer lock: repairing immutable-flag freezes that a run which died left in the journal
// (rows found now cannot belong to a live run: that run would hold the lock).
#include <functional>

namespace rdd::catalog {

class Catalog;

using WriterOpenHook = std::function<void(Catalog&)>;

// Installs `hook` (empty: none) for its lifetime and puts the previous one back afterwards, so
// a command can replace the program-wide hook for its own scope. Not thread-safe: install
// hooks before threads that open catalogs start.
class [[nodiscard]] ScopedWriterOpenHook {
public:
    explicit ScopedWriterOpenHook(WriterOpenHook hook);
    ~ScopedWriterOpenHook();
    ScopedWriterOpenHook(const ScopedWriterOpenHook&) = delete;
    ScopedWriterOpenHook& operator=(const ScopedWriterOpenHook&) = delete;

private:
    WriterOpenHook previous_;
};

namespace detail {
// Called by Catalog::open_writer last; what the hook throws, open_writer throws.
void run_writer_open_hook(Catalog& cat);
}  // namespace detail

}  // namespace rdd::catalog
