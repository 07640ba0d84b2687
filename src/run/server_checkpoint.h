#pragma once
// The server's checkpoint: after every completed round, everything a restarted server needs to
// continue after that round and end bit for bit like an uninterrupted run (docs/protocol.md
// "Server restart"). Selection needs nothing: it is a function of (random_seed, round).
//
// Files, in the run's output folder: checkpoint/round_<r>.safetensors (the global model after
// round r), checkpoint/round_<r>.aggregator.safetensors (the aggregation rule's state, when it
// has one), then checkpoint.json naming them with their sizes and SHA-256, each written
// atomically and in that order, so checkpoint.json always names complete files.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "core/blob_ref.h"
#include "fedsilo/state_dict.h"

namespace fedsilo::cross_silo {

struct ServerCheckpoint {
  std::string run_id;
  int64_t round = -1;           // the last completed round
  bool finished = false;        // the final model was written and FINISH sent
  double elapsed_s = 0;         // run time before the restart: elapsed figures go on from it
  nlohmann::json record;        // round `round`'s metrics.jsonl line
  nlohmann::json last_metrics;  // the last evaluation's figures
  BlobRef final_model;          // when finished: the final model's blob in the store
  // The run's config when it started (args_to_json): a resume may change only some keys.
  // Null in checkpoints written before it was recorded.
  nlohmann::json config;
};

class CheckpointFiles {
 public:
  explicit CheckpointFiles(std::string output_dir);

  // Writes the round's model (and the aggregator's state when not empty), then checkpoint.json;
  // removes the files of the round before. Throws StoreError naming a file it cannot write.
  void save(const ServerCheckpoint& c, const StateDict& model, const StateDict& aggregator_state);

  struct Loaded {
    ServerCheckpoint meta;
    StateDict model;       // in `layout`'s order, verified against its size and SHA-256
    StateDict aggregator;  // empty when the rule keeps no state
  };
  // nullopt when there is no checkpoint.json. Throws ConfigError naming the file when it is
  // truncated or malformed, belongs to another run, or a file it names is missing or does not
  // match its recorded size and SHA-256 or `layout`.
  std::optional<Loaded> load(const std::string& run_id, const StateDict& layout) const;

  std::string json_path() const;

 private:
  std::string dir_;
};

}  // namespace fedsilo::cross_silo
