#pragma once
// The effective configuration of a run (after --set), for reports: every key of the schema
// table in args.cpp, written by the same table that reads it, so the dump cannot drift from
// what exists. Secrets never live in Args.
#include <nlohmann/json.hpp>

#include "fedsilo/args.h"

namespace fedsilo {
nlohmann::json args_to_json(const Args& args);
}
