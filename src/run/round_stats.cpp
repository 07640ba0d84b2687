#include "run/round_stats.h"

#include <cmath>

#include "monitor/system_metrics.h"

namespace fedsilo::cross_silo {

nlohmann::json RoundStats::to_json() const {
  nlohmann::json silos_json = nlohmann::json::array();
  for (const auto& s : silos) {
    // The silo's figures first: the server's own fields are written over them, never under.
    nlohmann::json j = s.reported.is_object() ? s.reported : nlohmann::json::object();
    j.update(nlohmann::json{{"silo", s.silo},
                            {"data_silo_index", s.data_silo_index},
                            {"num_samples", s.num_samples},
                            {"server_download_ms", s.server_download_ms},
                            {"notify_ms", s.notify_ms},
                            {"fold_ms", s.fold_ms}});
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

namespace {

struct FigureRange {
  const char* key;
  double min, max;
  bool integer;
};
// A day of training or transfer per round, and a loss of 1e12, are already beyond any real run.
constexpr double kMaxMs = 24 * 3600 * 1e3;
constexpr FigureRange kSiloFigures[] = {
    {"train_loss", -1e12, 1e12, false}, {"train_acc", 0, 1, false},
    {"train_ms", 0, kMaxMs, false},     {"download_ms", 0, kMaxMs, false},
    {"upload_ms", 0, kMaxMs, false},    {"sync_notify_ms", -kMaxMs, kMaxMs, false},
    {"local_steps", 0, 1e15, true}};

}  // namespace

nlohmann::json checked_silo_figures(const nlohmann::json& reported) {
  nlohmann::json out = nlohmann::json::object();
  if (!reported.is_object()) return out;
  for (const auto& f : kSiloFigures) {
    auto it = reported.find(f.key);
    if (it == reported.end() || !it->is_number()) continue;
    double v = it->get<double>();
    if (!std::isfinite(v) || v < f.min || v > f.max) continue;
    if (f.integer) {
      if (!it->is_number_integer() && !it->is_number_unsigned()) continue;
      out[f.key] = it->get<int64_t>();
    } else {
      out[f.key] = v;
    }
  }
  if (auto it = reported.find("system"); it != reported.end())
    out["system"] = monitor::sanitize_system_metrics(*it);
  return out;
}

}  // namespace fedsilo::cross_silo
