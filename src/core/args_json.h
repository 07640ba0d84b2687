#pragma once
// The effective configuration of a run (after --set), for reports. Secrets never live in Args.
#include <nlohmann/json.hpp>

#include "fedsilo/args.h"

namespace fedsilo {
nlohmann::json args_to_json(const Args& args);
}
