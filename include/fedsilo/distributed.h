#pragma once
// The server and a silo as separate processes, over MQTT and an object store. Both return the
// process exit code: 0 when the run completed; non-zero, after a log line saying why, when a
// deadline passed (3), the server aborted the run (4) or the process was interrupted (130).
#include <string>
#include <vector>

#include "fedsilo/args.h"

namespace fedsilo {

int run_server(const Args& args);

// Silo args.rank. With n_node_in_silo x n_proc_per_node > 1 trainers this process is the
// node's launcher: it starts n_proc_per_node copies of itself (`argv`, with FEDSILO_SILO_RANK,
// FEDSILO_LOCAL_RANK and FEDSILO_WORLD_SIZE in their environment) and watches them; a process
// that finds FEDSILO_SILO_RANK set is one of those trainers. With one trainer it trains itself.
int run_silo(const Args& args, const std::vector<std::string>& argv);

// Log file name of this silo process: client-<k>.log for the master (or the only trainer),
// client-<k>-trainer-<r>.log for worker r, client-<k>-node-<n>.log for a launcher.
std::string silo_log_name(const Args& args);

// One trainer of a silo: rank 0 is the silo master (MQTT, object store), others are workers.
int run_silo_trainer(const Args& args, int64_t silo_rank, int64_t world_size);

}  // namespace fedsilo
