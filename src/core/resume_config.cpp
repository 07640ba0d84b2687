#include "core/resume_config.h"

#include <set>

namespace fedsilo {
namespace {

// Whole sections that are about how the run is carried out, not what it computes.
const std::set<std::string>& free_sections() {
  static const std::set<std::string> s = {"tracking_args", "device_args",      "client_silo_args",
                                          "silo_args",     "environment_args", "run"};
  return s;
}

const std::set<std::string>& free_keys() {
  static const std::set<std::string> s = {"comm_args.backend",
                                          "comm_args.mqtt_config_path",
                                          "comm_args.s3_config_path",
                                          "comm_args.online_timeout_s",
                                          "comm_args.round_timeout_s",
                                          "comm_args.round_max_s",
                                          "comm_args.resend_interval_s",
                                          "comm_args.object_store",
                                          "comm_args.blob_retention_rounds",
                                          "comm_args.round_retries",
                                          "comm_args.grpc_ipconfig_path",
                                          "security_args.key_dir",
                                          "security_args.message_signing",
                                          "validation_args.frequency_of_the_test",
                                          "train_args.min_clients_per_round",
                                          "train_args.comm_round",  // checked on its own
                                          "common_args.config_version"};
  return s;
}

}  // namespace

bool may_change_on_resume(const std::string& section, const std::string& key) {
  return free_sections().count(section) || free_keys().count(section + "." + key);
}

std::vector<std::string> refused_resume_changes(const nlohmann::json& saved,
                                                const nlohmann::json& now, int64_t rounds_done) {
  std::vector<std::string> out;
  if (!saved.is_object() || !now.is_object()) return out;
  for (const auto& [section, keys] : saved.items()) {
    if (!keys.is_object()) continue;
    for (const auto& [key, value] : keys.items()) {
      if (may_change_on_resume(section, key)) continue;
      const nlohmann::json* current = nullptr;
      if (now.contains(section) && now[section].is_object() && now[section].contains(key))
        current = &now[section][key];
      if (current && *current == value) continue;
      out.push_back(section + "." + key + ": " + value.dump() + " -> " +
                    (current ? current->dump() : std::string("(absent)")));
    }
  }
  const auto& rounds = now.value("train_args", nlohmann::json::object());
  if (rounds.contains("comm_round") && rounds["comm_round"].is_number_integer() &&
      rounds["comm_round"].get<int64_t>() < rounds_done) {
    out.push_back("train_args.comm_round: " + rounds["comm_round"].dump() + " is below the " +
                  std::to_string(rounds_done) + " rounds already done");
  }
  return out;
}

}  // namespace fedsilo
