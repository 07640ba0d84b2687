#pragma once
// What one round did, as the server saw it: the protocol fills it in, the RunRecorder turns it
// into a metrics.jsonl line, the progress log line and report.html.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fedsilo::cross_silo {

struct SiloRoundStats {
  int64_t silo = 0;
  int64_t data_silo_index = -1;
  int64_t num_samples = 0;
  double server_download_ms = 0;  // fetch + verify the silo's blob
  double notify_ms = 0;           // the SEND_MODEL message's hop through the transport
  double fold_ms = 0;             // Aggregator::accumulate
  nlohmann::json reported = nlohmann::json::object();  // the silo's own figures (train_ms, ...)
  std::string rejected;  // why the update was left out of the aggregate (empty: it was folded)
};

struct RoundStats {
  int64_t round = 0;
  std::vector<SiloRoundStats> silos;          // in arrival order
  std::vector<int64_t> selected;              // the round's selection, offline silos included
  std::map<int64_t, std::string> dropped;     // selected silos whose model is not in the round, why
  int64_t retries = 0;                        // times the round was asked again below quorum
  double server_upload_ms = 0;                // encode + put the global model
  double aggregate_ms = 0;                    // Aggregator::report + load into the model
  bool aggregate_rejected = false;            // non-finite: the global model stayed as it was
  std::map<std::string, double> aggregation;  // Aggregator::round_metrics (defense, DP epsilon)
  std::optional<double> evaluate_ms;          // on rounds that evaluate
  nlohmann::json metrics = nlohmann::json::object();  // evaluation: test_acc, test_loss, ...
  double round_ms = 0;
  double elapsed_s = 0;  // since the server started

  // One metrics.jsonl object (docs/config.md, "Outputs").
  nlohmann::json to_json() const;
};

// A silo's own figures as the server keeps them: only the keys a silo sends (train_loss,
// train_acc, train_ms, download_ms, sync_notify_ms, upload_ms, local_steps, system), each a
// finite number in its range; anything else a silo puts there (strings, nulls, arrays, 1e308 ms,
// keys of its own) is left out, so it can neither crash the server, its report or a resume from
// its checkpoint, nor overwrite the figures the server owns. The one place they are checked.
nlohmann::json checked_silo_figures(const nlohmann::json& reported);

}  // namespace fedsilo::cross_silo
