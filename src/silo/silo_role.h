#pragma once
// Which of a silo's processes this one is. `fedsilo client --rank k` with more than one trainer
// per silo starts as the node's launcher; the launcher re-runs the same command line for each
// trainer with FEDSILO_SILO_RANK, FEDSILO_LOCAL_RANK and FEDSILO_WORLD_SIZE set. Trainer 0 is the
// silo master (it speaks to the server); the others are workers. The environment is read here
// only, once per process.
#include <cstdint>
#include <string>

#include "fedsilo/args.h"

namespace fedsilo::silo {

// The launcher's variables (trainer_environment), and the two that ask the first trainer of a
// node to fork its siblings (sibling_trainers.h).
inline constexpr const char* kSiloRankVariable = "FEDSILO_SILO_RANK";
inline constexpr const char* kLocalRankVariable = "FEDSILO_LOCAL_RANK";
inline constexpr const char* kWorldSizeVariable = "FEDSILO_WORLD_SIZE";
// Set by the launcher of a silo on one node whose master address is loopback: the file the
// trainers meet through (SiloGroup, GroupOptions::store_file), in a folder only this user enters.
inline constexpr const char* kRendezvousFileVariable = "FEDSILO_PG_STORE_FILE";
inline constexpr const char* kForkSiblingsVariable = "FEDSILO_FORK_SIBLINGS";
inline constexpr const char* kForkReportFdVariable = "FEDSILO_FORK_REPORT_FD";

struct SiloRole {
  enum class Kind { kLauncher, kMaster, kWorker };
  Kind kind = Kind::kMaster;
  int64_t silo_rank = 0;        // rank in the silo's process group; 0 = master
  int64_t local_rank = 0;       // rank among this node's trainers
  int64_t world_size = 1;       // trainers in the silo, over all its nodes
  std::string rendezvous_file;  // the launcher's kRendezvousFileVariable; empty: a TCP store

  bool launcher() const { return kind == Kind::kLauncher; }
  bool master() const { return kind == Kind::kMaster; }
  bool worker() const { return kind == Kind::kWorker; }

  // The role of this process for silo `args.rank`. Throws ConfigError when the launcher's
  // variables are malformed.
  static SiloRole of(const Args& args);

  // The environment a launcher gives trainer `silo_rank` (its `local_rank` on this node).
  static std::vector<std::pair<std::string, std::string>> trainer_environment(int64_t silo_rank,
                                                                              int64_t local_rank,
                                                                              int64_t world_size);

  // Log file of this process: client-<k>.log for the master (or the only trainer),
  // client-<k>-trainer-<r>.log for worker r, client-<k>-node-<n>.log for a launcher.
  std::string log_name(const Args& args) const;
};

}  // namespace fedsilo::silo
