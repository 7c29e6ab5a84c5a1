#pragma once
// The program-wide catalog hook (installed in main): every writer open of a catalog first
// puts back the flags that a --lock=immutable run which died left in its journal, with a
// warning on stderr saying so (and one when some could not be repaired).
#include "reflinkdedup/catalog/open_hook.hpp"

namespace rdd::cli {

[[nodiscard]] catalog::WriterOpenHook freeze_repair_hook();

}  // namespace rdd::cli
