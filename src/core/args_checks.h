#pragma once
// Cross-key checks of a parsed config (docs/config.md).
#include "fedsilo/args.h"

namespace fedsilo {

// Throws ConfigError ("config: ...") naming the keys that conflict.
void check_consistency(const Args& a);

// A silo's --rank must be one of train_args.client_id_list; throws ConfigError naming both.
void check_silo_rank(const Args& a);

}  // namespace fedsilo
