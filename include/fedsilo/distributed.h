#pragma once
// Drivers of the distributed mode (used by cross_silo.h's Client and Server): the server and
// a silo's processes over the transport comm_args.backend names and an object store. They
// return the process exit code (ExitCode in exit_code.h). While they run, SIGINT and SIGTERM end
// the run cleanly (previous handlers are restored on return) and torch's intra-op thread count
// is device_args.num_threads.
#include <string>
#include <vector>

#include "fedsilo/aggregator.h"
#include "fedsilo/args.h"
#include "fedsilo/cross_silo.h"
#include "fedsilo/dataset.h"
#include "fedsilo/model.h"

namespace fedsilo {

int run_server(const Args& args, const FederatedDataset& dataset, Model model,
               std::unique_ptr<Aggregator> aggregator, cross_silo::Evaluator evaluator);

// Silo args.rank. With n_node_in_silo x n_proc_per_node > 1 trainers this process is the
// node's launcher: it starts n_proc_per_node copies of this program (same command line, with
// FEDSILO_SILO_RANK, FEDSILO_LOCAL_RANK and FEDSILO_WORLD_SIZE in their environment) and
// watches them; a process that finds FEDSILO_SILO_RANK set is one of those trainers. With one
// trainer it trains itself.
int run_silo(const Args& args, const FederatedDataset& dataset, Model model,
             const TrainerFactory& trainer);

// True when this process would be the node's launcher rather than a trainer; such a process
// needs no data or model and may call run_silo_launcher directly.
bool is_silo_launcher(const Args& args);
int run_silo_launcher(const Args& args);

}  // namespace fedsilo
