#pragma once
// The FedML-style command line every fedsilo program takes (--cf, --rank, --run_id,
// --node_rank, --set), parsed in core so that the lean launcher (apps/fedsilo.cpp, no libtorch)
// reads it exactly as the trainers it starts do.
#include "fedsilo/args.h"

namespace fedsilo {

// Throws ConfigError naming what is wrong; prints the help and exits 0 for --help.
Args parse_command_line(int argc, char** argv);

// How many of this process's command-line words are fedsilo's options (the rest, before them,
// start the program: `/usr/bin/python3 train.py` for a Python one). fedsilo::init records it;
// a silo's launcher starts its trainers with the same program words. -1: not recorded (all but
// the first word are options).
void set_program_option_count(int count);
int program_option_count();

}  // namespace fedsilo
