#pragma once
// `fedsilo client --rank k [--node_rank r]`: like torchrun's agent. Starts this node's
// n_proc_per_node trainer processes with their silo rank, local rank and world size, forwards
// SIGINT / SIGTERM to them, and when one of them fails stops the others and exits non-zero
// naming the failed trainer. Children are killed if the launcher itself dies, so none is left.
#include <string>
#include <vector>

#include "fedsilo/args.h"

namespace fedsilo::silo {

// `trainer_argv(i)` is the command line of local trainer i (its environment adds
// FEDSILO_SILO_RANK, FEDSILO_LOCAL_RANK, FEDSILO_WORLD_SIZE). Returns the exit code.
int launch_trainers(const Args& args, const std::vector<std::string>& trainer_argv);

}  // namespace fedsilo::silo
