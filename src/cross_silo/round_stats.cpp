#include "cross_silo/round_stats.h"

namespace fedsilo::cross_silo {

nlohmann::json RoundStats::to_json() const {
  nlohmann::json silos_json = nlohmann::json::array();
  for (const auto& s : silos) {
    nlohmann::json j = {{"silo", s.silo},
                        {"data_silo_index", s.data_silo_index},
                        {"num_samples", s.num_samples},
                        {"server_download_ms", s.server_download_ms},
                        {"notify_ms", s.notify_ms},
                        {"fold_ms", s.fold_ms}};
    j.update(s.reported);
    if (!s.rejected.empty()) j["rejected"] = s.rejected;
    silos_json.push_back(std::move(j));
  }
  nlohmann::json dropped_json = nlohmann::json::array();
  for (const auto& [silo, why] : dropped) dropped_json.push_back({{"silo", silo}, {"reason", why}});
  nlohmann::json out = {{"round", round},
                        {"silos", std::move(silos_json)},
                        {"selected", selected},
                        {"dropped", std::move(dropped_json)},
                        {"server_upload_ms", server_upload_ms},
                        {"aggregate_ms", aggregate_ms}};
  if (evaluate_ms) out["evaluate_ms"] = *evaluate_ms;
  if (retries) out["retries"] = retries;
  if (aggregate_rejected) out["aggregate_rejected"] = true;
  if (!aggregation.empty()) out["aggregation"] = aggregation;
  out.update(metrics);
  out["round_ms"] = round_ms;
  out["elapsed_s"] = elapsed_s;
  return out;
}

}  // namespace fedsilo::cross_silo
