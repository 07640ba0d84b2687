#pragma once
// The FedML-style command line every fedsilo program takes (--cf, --rank, --run_id,
// --node_rank, --set), parsed in core so that the lean launcher (apps/fedsilo.cpp, no libtorch)
// reads it exactly as the trainers it starts do.
#include "fedsilo/args.h"

namespace fedsilo {

// Throws ConfigError naming what is wrong; prints the help and exits 0 for --help.
Args parse_command_line(int argc, char** argv);

}  // namespace fedsilo
