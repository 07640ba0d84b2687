#pragma once
// Cross-key checks of a parsed config (docs/config.md).
#include "fedsilo/args.h"

namespace fedsilo {

// Throws ConfigError ("config: ...") naming the keys that conflict.
void check_consistency(const Args& a);

}  // namespace fedsilo
