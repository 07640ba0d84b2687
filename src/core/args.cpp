// Reading fedml_config.yaml into Args. This file is long because it holds the one table of every
// config key (schema()): validation, --set, unknown-key errors and the JSON dump of a run's config
// all read that table, so it stays in one place. Cross-key checks are in args_checks.cpp.
#include "fedsilo/args.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <functional>
#include <set>

#include "core/args_checks.h"
#include "core/args_json.h"
#include "core/config_choices.h"
#include "core/config_values.h"
#include "core/log.h"
#include "fedsilo/error.h"

namespace fedsilo {
namespace {
using config::bad;

// One key: where it lives, how to read it and how to write it back. A table of these is the
// whole schema, so validation, unknown-key warnings, --set and the JSON dump of a run's config
// all agree on what exists.
struct Field {
  const char* section;
  const char* key;
  std::function<void(Args&, const YAML::Node&, const std::string& path)> read;
  std::function<nlohmann::json(const Args&)> write;  // null: accepted, not used, not dumped
};

struct Access {
  std::function<void(Args&, const YAML::Node&, const std::string& path)> read;
  std::function<nlohmann::json(const Args&)> write;
};

template <typename T>
std::function<nlohmann::json(const Args&)> dump(T Args::*f) {
  return [f](const Args& a) { return nlohmann::json(a.*f); };
}

Access integer(int64_t Args::*f, int64_t lo, int64_t hi = INT64_MAX) {
  return {[f, lo, hi](Args& a, const YAML::Node& n, const std::string& path) {
            a.*f = config::integer(n, path, lo, hi);
          },
          dump(f)};
}

Access real(double Args::*f, double lo, bool lo_open, double hi = 1e300) {
  return {[=](Args& a, const YAML::Node& n, const std::string& path) {
            a.*f = config::real(n, path, lo, lo_open, hi);
          },
          dump(f)};
}

Access text(std::string Args::*f) {
  return {
      [f](Args& a, const YAML::Node& n, const std::string& path) { a.*f = config::text(n, path); },
      dump(f)};
}

Access choice(std::string Args::*f, std::vector<std::string> allowed) {
  return {[f, allowed](Args& a, const YAML::Node& n, const std::string& path) {
            a.*f = config::choice(n, path, allowed);
          },
          dump(f)};
}

// A name from a registry of a higher layer (config_choices.h).
Access registered(std::string Args::*f) {
  return {[f](Args& a, const YAML::Node& n, const std::string& path) {
            auto names = config_choices(path);
            a.*f = names ? config::choice(n, path, *names) : config::text(n, path);
          },
          dump(f)};
}

// A registered name, or one of `reserved`: names FedML defines that check_consistency answers
// with a specific message (e.g. SA) rather than "must be one of".
Access registered_or(std::string Args::*f, std::vector<std::string> reserved) {
  return {[f, reserved](Args& a, const YAML::Node& n, const std::string& path) {
            std::string v = n.IsScalar() ? n.Scalar() : "";
            if (std::find(reserved.begin(), reserved.end(), v) != reserved.end()) {
              a.*f = v;
              return;
            }
            auto names = config_choices(path);
            a.*f = names ? config::choice(n, path, *names) : config::text(n, path);
          },
          dump(f)};
}

Access boolean(bool Args::*f) {
  return {[f](Args& a, const YAML::Node& n, const std::string& path) {
            a.*f = config::boolean(n, path);
          },
          dump(f)};
}

// A key FedML has that does not matter here; `why` is logged once and listed in docs/config.md.
Access ignored(std::string why) {
  return {[why](Args& a, const YAML::Node&, const std::string& path) {
            a.ignored_keys.push_back(path + ": " + why);
          },
          nullptr};
}

// A FedML feature fedsilo does not have: off is fine, on stops the run (exit 2) instead of
// running without what the user asked for.
Access unsupported_when_true(const std::string& feature) {
  return {[feature](Args&, const YAML::Node& n, const std::string& path) {
            if (config::boolean(n, path)) {
              throw ConfigError("config " + path + " = true: " + feature +
                                " is not implemented in fedsilo, and the run would go without it; "
                                "set it to false or remove it (docs/config.md)");
            }
          },
          nullptr};
}

// FedML writes lists as strings ("[1, 2]"); a YAML list is accepted too.
YAML::Node list_of(const YAML::Node& n, const std::string& path, const std::string& example) {
  YAML::Node list = n;
  if (n.IsScalar()) {
    try {
      list = YAML::Load(n.as<std::string>());
    } catch (const YAML::Exception&) {
      bad(path, n, "must be a list like " + example);
    }
  }
  if (!list.IsSequence()) bad(path, n, "must be a list like " + example);
  return list;
}

Access int_list(std::vector<int> Args::*f, int lo, int hi) {
  return {[=](Args& a, const YAML::Node& n, const std::string& path) {
            std::vector<int> out;
            for (const auto& e : list_of(n, path, "\"[1, 2]\""))
              out.push_back(static_cast<int>(config::integer(e, path, lo, hi)));
            a.*f = out;
          },
          dump(f)};
}

void read_id_list(Args& a, const YAML::Node& n, const std::string& path) {
  YAML::Node list = list_of(n, path, "\"[1, 2]\" (silo ids)");
  // FedML: an empty list means silos 1..client_num_per_round (filled in once that is read).
  std::vector<int> ids;
  std::set<int> seen;
  for (const auto& e : list) {
    if (!e.IsScalar()) bad(path, n, "must be a flat list of silo ids, like [1, 2]");
    int id = static_cast<int>(config::integer(e, path, INT32_MIN, INT32_MAX));
    if (id < 1) bad(path, n, "silo ids start at 1 (rank 0 is the server)");
    if (!seen.insert(id).second) bad(path, n, fmt::format("silo id {} appears twice", id));
    ids.push_back(id);
  }
  a.client_id_list = ids;
}

// An alias of a key read elsewhere: read, never dumped twice.
Access read_only(Access a) {
  a.write = nullptr;
  return a;
}

// FedML's device_args.device_type: cpu, or gpu (the same as using_gpu: true); Apple's mps does
// not exist here.
void read_device_type(Args& a, const YAML::Node& n, const std::string& path) {
  auto v = config::choice(n, path, {"cpu", "gpu", "mps"});
  if (v == "mps")
    throw ConfigError("config " + path +
                      " = mps: Apple's Metal backend is not in Debian's "
                      "libtorch; use cpu or gpu");
  if (v == "gpu") a.using_gpu = true;
}

// FedML's configs write "None" (a string) when no attack is chosen.
void read_attack_type(Args& a, const YAML::Node& n, const std::string& path) {
  std::string v = config::text(n, path);
  if (v == "None" || v == "none") v.clear();
  if (!v.empty() && v != "byzantine" && v != "label_flipping")
    bad(path, n, "must be one of: byzantine, label_flipping (or None)");
  a.attack_type = v;
}

// Waits beyond a year are typos, and would overflow a deadline's time_point.
constexpr double kMaxWaitS = 366.0 * 24 * 3600;
// Each data silo costs bookkeeping; more than this many is a typo (1e9 would exhaust memory).
constexpr int64_t kMaxDataSilos = 1 << 20;

Field field(const char* section, const char* key, Access access) {
  return {section, key, std::move(access.read), std::move(access.write)};
}

const std::vector<Field>& schema() {
  static const std::vector<Field> fields = {
      field("common_args", "training_type", choice(&Args::training_type, {"cross_silo"})),
      field("common_args", "scenario", choice(&Args::scenario, {"hierarchical", "horizontal"})),
      field("common_args", "random_seed", integer(&Args::random_seed, 0)),
      field("common_args", "config_version", ignored("labels the config file only")),
      field("common_args", "using_mlops", unsupported_when_true("FedML's MLOps platform")),
      field("environment_args", "bootstrap",
            ignored("a script FedML's MLOps agent runs before the job; run your set-up yourself "
                    "(scripts/setup.sh installs fedsilo's)")),
      field("data_args", "dataset", choice(&Args::dataset, {"mnist", "fashion_mnist"})),
      field("data_args", "data_cache_dir", text(&Args::data_cache_dir)),
      field("data_args", "partition_method",
            choice(&Args::partition_method, {"homo", "hetero", "natural"})),
      field("data_args", "partition_alpha", real(&Args::partition_alpha, 0, true)),
      field("data_args", "partition_min_size", integer(&Args::partition_min_size, 0)),
      field("model_args", "model", registered(&Args::model)),
      field("model_args", "model_file_cache_folder",
            ignored("FedML's MLOps model cache; fedsilo writes the final model to the run folder")),
      field("model_args", "global_model_file_path",
            ignored("FedML's MLOps model cache; fedsilo writes the final model to the run folder")),
      field("train_args", "federated_optimizer",
            registered_or(&Args::federated_optimizer, {"SA", "LSA"})),
      field("train_args", "client_id_list", Access{read_id_list, dump(&Args::client_id_list)}),
      field("train_args", "client_num_in_total",
            integer(&Args::client_num_in_total, 1, kMaxDataSilos)),
      field("train_args", "client_num_per_round", integer(&Args::client_num_per_round, 1)),
      field("train_args", "comm_round", integer(&Args::comm_round, 1)),
      field("train_args", "epochs", integer(&Args::epochs, 1)),
      field("train_args", "batch_size", integer(&Args::batch_size, 1)),
      field("train_args", "client_optimizer", registered(&Args::client_optimizer)),
      field("train_args", "learning_rate", real(&Args::learning_rate, 0, true)),
      field("train_args", "momentum", real(&Args::momentum, 0, false, 1)),
      field("train_args", "weight_decay", real(&Args::weight_decay, 0, false)),
      field("train_args", "max_samples_per_silo", integer(&Args::max_samples_per_silo, 0)),
      field("train_args", "min_clients_per_round", integer(&Args::min_clients_per_round, 0)),
      field("train_args", "server_optimizer",
            choice(&Args::server_optimizer, {"sgd", "adam", "yogi", "adagrad"})),
      field("train_args", "server_lr", real(&Args::server_lr, 0, true)),
      field("train_args", "server_momentum", real(&Args::server_momentum, 0, false, 1)),
      field("train_args", "server_beta1", real(&Args::server_beta1, 0, false, 1)),
      field("train_args", "server_beta2", real(&Args::server_beta2, 0, false, 1)),
      field("train_args", "server_epsilon", real(&Args::server_epsilon, 0, true)),
      field("train_args", "fedprox_mu", real(&Args::fedprox_mu, 0, false)),
      field("validation_args", "frequency_of_the_test", integer(&Args::frequency_of_the_test, 1)),
      field("device_args", "worker_num", integer(&Args::worker_num, 1)),
      field("device_args", "using_gpu", boolean(&Args::using_gpu)),
      field("device_args", "device_type", Access{read_device_type, nullptr}),
      field("device_args", "gpu_mapping_file", text(&Args::gpu_mapping_file)),
      field("device_args", "gpu_mapping_key", text(&Args::gpu_mapping_key)),
      field("device_args", "num_threads", integer(&Args::num_threads, 1, 1024)),
      field("comm_args", "backend", choice(&Args::backend, {"MQTT_S3", "INPROC"})),
      field("comm_args", "mqtt_config_path", text(&Args::mqtt_config_path)),
      field("comm_args", "s3_config_path", text(&Args::s3_config_path)),
      field("comm_args", "online_timeout_s", real(&Args::online_timeout_s, 0, true, kMaxWaitS)),
      field("comm_args", "round_timeout_s", real(&Args::round_timeout_s, 0, true, kMaxWaitS)),
      field("comm_args", "round_max_s", real(&Args::round_max_s, 0, false, kMaxWaitS)),
      field("comm_args", "resend_interval_s", real(&Args::resend_interval_s, 0, true, kMaxWaitS)),
      field("comm_args", "object_store", text(&Args::object_store)),
      field("comm_args", "blob_retention_rounds", integer(&Args::blob_retention_rounds, 0)),
      field("comm_args", "round_retries", integer(&Args::round_retries, 0, 1000)),
      field("tracking_args", "log_file_dir", text(&Args::log_file_dir)),
      field("tracking_args", "local_log_output_path", text(&Args::local_log_output_path)),
      field("tracking_args", "log_level",
            choice(&Args::log_level, {"trace", "debug", "info", "warn", "error"})),
      field("tracking_args", "enable_wandb",
            unsupported_when_true("Weights & Biases tracking (it needs the cloud; fedsilo writes "
                                  "metrics.jsonl and report.html in the run folder)")),
      field("tracking_args", "dashboard_port", integer(&Args::dashboard_port, 0, 65535)),
      field("tracking_args", "dashboard_address", text(&Args::dashboard_address)),
      field("tracking_args", "dashboard_linger_s",
            real(&Args::dashboard_linger_s, 0, false, kMaxWaitS)),
      field("tracking_args", "tensorboard_dir", text(&Args::tensorboard_dir)),
      field("tracking_args", "wandb_key", ignored("used only with enable_wandb: true")),
      field("tracking_args", "wandb_project", ignored("used only with enable_wandb: true")),
      field("tracking_args", "wandb_name", ignored("used only with enable_wandb: true")),
      field("comm_args", "grpc_ipconfig_path", ignored("used only with backend GRPC")),
      field("security_args", "message_signing", boolean(&Args::message_signing)),
      field("dp_args", "enable_dp", boolean(&Args::enable_dp)),
      field("dp_args", "dp_solution_type", choice(&Args::dp_solution_type, {"cdp", "ldp"})),
      field("dp_args", "mechanism_type", choice(&Args::mechanism_type, {"gaussian", "laplace"})),
      field("dp_args", "epsilon", real(&Args::dp_epsilon, 0, true)),
      field("dp_args", "delta", real(&Args::dp_delta, 0, true, 1)),
      field("dp_args", "sensitivity", real(&Args::dp_sensitivity, 0, true)),
      field("dp_args", "clipping_norm", real(&Args::dp_clipping_norm, 0, false)),
      field("dp_args", "enable_rdp_accountant", boolean(&Args::enable_rdp_accountant)),
      field("dp_args", "rdp_alpha", real(&Args::rdp_alpha, 0, false, 1e6)),
      field("defense_args", "enable_defense", boolean(&Args::enable_defense)),
      field("defense_args", "defense_type", registered(&Args::defense_type)),
      field("defense_args", "byzantine_client_num", integer(&Args::byzantine_client_num, 0)),
      field("defense_args", "krum_param_m", integer(&Args::krum_param_m, 1)),
      field("defense_args", "beta", real(&Args::trimmed_mean_beta, 0, false, 0.5)),
      field("defense_args", "norm_bound", real(&Args::norm_bound, 0, true)),
      field("defense_args", "geometric_median_iterations",
            integer(&Args::geometric_median_iterations, 1, 100000)),
      field("attack_args", "enable_attack", boolean(&Args::enable_attack)),
      field("attack_args", "attack_type", Access{read_attack_type, dump(&Args::attack_type)}),
      field("attack_args", "attack_mode", choice(&Args::attack_mode, {"random", "zero", "flip"})),
      field("attack_args", "byzantine_client_num", integer(&Args::attack_byzantine_client_num, 0)),
      field("attack_args", "ratio_of_poisoned_client",
            real(&Args::ratio_of_poisoned_client, 0, false, 1)),
      field("attack_args", "original_class_list", int_list(&Args::original_class_list, 0, 1 << 20)),
      field("attack_args", "target_class_list", int_list(&Args::target_class_list, 0, 1 << 20)),
      field("fhe_args", "enable_fhe", unsupported_when_true("homomorphic encryption (fhe_args)")),
      field("secure_aggregation_args", "enable_sa", boolean(&Args::enable_sa)),
      field("secure_aggregation_args", "sa_method",
            choice(&Args::sa_method, {"secagg", "lightsecagg"})),
      field("secure_aggregation_args", "prime_number",
            integer(&Args::prime_number, 3, (int64_t(1) << 62) - 1)),
      field("secure_aggregation_args", "precision_parameter",
            integer(&Args::precision_parameter, 0, 52)),
      field("security_args", "key_dir", text(&Args::key_dir)),
      field("client_silo_args", "n_node_in_silo", integer(&Args::n_node_in_silo, 1, 4096)),
      field("client_silo_args", "n_proc_per_node", integer(&Args::n_proc_per_node, 1, 4096)),
      field("client_silo_args", "node_rank_in_silo", integer(&Args::node_rank_in_silo, 0)),
      field("client_silo_args", "pg_master_address", text(&Args::pg_master_address)),
      field("client_silo_args", "pg_master_port", integer(&Args::pg_master_port, 1, 65535)),
      // FedML's newer examples name the section silo_args: the same keys.
      field("silo_args", "n_node_in_silo", read_only(integer(&Args::n_node_in_silo, 1, 4096))),
      field("silo_args", "n_proc_per_node", read_only(integer(&Args::n_proc_per_node, 1, 4096))),
      field("silo_args", "node_rank_in_silo", read_only(integer(&Args::node_rank_in_silo, 0))),
      field("silo_args", "pg_master_address", read_only(text(&Args::pg_master_address))),
      field("silo_args", "pg_master_port", read_only(integer(&Args::pg_master_port, 1, 65535))),
  };
  return fields;
}

// Keys components registered (register_config_key), with their defaults.
struct ExtraKey {
  std::string section, key;  // the Field's names point into these
  Field field;
  double default_value;
};
std::deque<ExtraKey>& extra_keys() {
  static std::deque<ExtraKey> keys;  // a deque: Field pointers stay valid as it grows
  return keys;
}

const Field* find_field(const std::string& section, const std::string& key) {
  for (const auto& f : schema()) {
    if (section == f.section && key == f.key) return &f;
  }
  for (const auto& e : extra_keys()) {
    if (section == e.field.section && key == e.field.key) return &e.field;
  }
  return nullptr;
}

void apply_override(YAML::Node& root, const std::string& spec) {
  auto eq = spec.find('=');
  auto dot = spec.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
    throw ConfigError("--set " + spec +
                      ": expected section.key=value, e.g. train_args.comm_round=5");
  }
  std::string section = spec.substr(0, dot), key = spec.substr(dot + 1, eq - dot - 1);
  std::string value = spec.substr(eq + 1);
  if (!find_field(section, key)) {
    throw ConfigError("--set " + spec + ": there is no config key " + section + "." + key +
                      " (docs/config.md lists them)");
  }
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw ConfigError("--set " + spec + ": value is not valid YAML: " + e.what());
  }
  if (!root[section] || !root[section].IsMap()) root[section] = YAML::Node(YAML::NodeType::Map);
  root[section][key] = parsed.IsNull() ? YAML::Node(value) : parsed;
}

}  // namespace

void register_config_key(const std::string& section, const std::string& key, double default_value,
                         double lo, double hi) {
  if (find_field(section, key))
    throw Error("config key " + section + "." + key + " is registered twice");
  std::string path = section + "." + key;
  // A deque: earlier keys' Fields keep pointing at their own names as it grows.
  auto& e = extra_keys().emplace_back();
  e.section = section;
  e.key = key;
  e.default_value = default_value;
  e.field = Field{e.section.c_str(), e.key.c_str(),
                  [lo, hi](Args& a, const YAML::Node& n, const std::string& p) {
                    a.extra[p] = config::real(n, p, lo, false, hi);
                  },
                  [path](const Args& a) { return nlohmann::json(a.extra_value(path)); }};
}

double Args::extra_value(const std::string& key) const {
  auto it = extra.find(key);
  if (it != extra.end()) return it->second;
  for (const auto& e : extra_keys()) {
    if (key == std::string(e.field.section) + "." + e.field.key) return e.default_value;
  }
  throw ConfigError("config key " + key + " is not registered (register_config_key)");
}

std::string Args::run_output_dir() const {
  return (std::filesystem::path(log_file_dir) / ("run_" + run_id)).string();
}

std::string Args::resolve(const std::string& path) const {
  return config::resolve_path(path, config_dir);
}

std::string Args::signing_key_dir() const {
  if (key_dir.empty()) return (std::filesystem::path(log_file_dir) / "keys").string();
  return resolve(key_dir);
}

nlohmann::json args_to_json(const Args& a) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& f : schema()) {
    if (f.write) out[f.section][f.key] = f.write(a);
  }
  for (const auto& e : extra_keys()) out[e.field.section][e.field.key] = e.field.write(a);
  out["run"] = {{"rank", a.rank}, {"run_id", a.run_id}, {"config_file", a.config_file}};
  return out;
}

Args parse_args_yaml(const std::string& yaml_text, const std::vector<std::string>& overrides,
                     std::vector<std::string>* warnings) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(std::string("config is not valid YAML: ") + e.what());
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) throw ConfigError("config must be a mapping of sections (common_args, ...)");
  for (const auto& spec : overrides) apply_override(root, spec);

  Args a;
  std::vector<std::string> unknown;
  bool worker_num_given = false;
  for (const auto& sec : root) {
    auto section = sec.first.Scalar();
    if (!sec.second.IsMap()) {
      if (sec.second.IsNull()) continue;
      bad(section, sec.second, "must be a mapping of keys");
    }
    for (const auto& kv : sec.second) {
      auto key = kv.first.Scalar();
      const Field* f = find_field(section, key);
      if (!f) {
        unknown.push_back(section + "." + key);
        continue;
      }
      if (kv.second.IsNull()) {
        // "key:" with no value keeps the default, except FedML's empty client_id_list.
        if (section == "train_args" && key == "client_id_list") a.client_id_list.clear();
        continue;
      }
      f->read(a, kv.second, section + "." + key);
      if (section == "device_args" && key == "worker_num") worker_num_given = true;
    }
  }
  if (!unknown.empty()) {
    // Ignoring them would run something other than what the config asks for.
    throw ConfigError(fmt::format(
        "config key{} {} {} not supported by fedsilo; a run would go without what {} for, so "
        "remove {} (docs/config.md lists every key, and the FedML keys that are ignored and why)",
        unknown.size() > 1 ? "s" : "", fmt::join(unknown, ", "), unknown.size() > 1 ? "are" : "is",
        unknown.size() > 1 ? "they ask" : "it asks", unknown.size() > 1 ? "them" : "it"));
  }
  for (const auto& k : a.ignored_keys) {
    if (warnings) warnings->push_back("config key " + k);
    SPDLOG_DEBUG("config key {} (ignored)", k);
  }
  if (a.client_id_list.empty()) {
    // FedML: an empty list means silos 1..N, N = worker_num where given, else
    // client_num_per_round.
    int64_t n = worker_num_given ? a.worker_num : a.client_num_per_round;
    for (int64_t k = 1; k <= n; ++k) a.client_id_list.push_back(static_cast<int>(k));
  }
  // FedML names secure aggregation as an optimizer too; it aggregates like FedAvg.
  if (a.federated_optimizer == "SA" || a.federated_optimizer == "LSA") {
    if (a.federated_optimizer == "LSA") a.sa_method = "lightsecagg";
    a.enable_sa = true;
    a.federated_optimizer = "FedAvg";
  }
  check_consistency(a);
  if (a.min_clients_per_round == 0) a.min_clients_per_round = a.client_num_per_round;
  return a;
}

Args load_args(const std::string& config_file, const std::vector<std::string>& overrides) {
  namespace fs = std::filesystem;
  std::string text = config::read_file(config_file);
  try {
    if (YAML::Load(text).IsNull()) {
      throw ConfigError(config_file +
                        ": holds no settings (only comments, null or ---); like an empty file it "
                        "is refused rather than run with every default");
    }
  } catch (const YAML::Exception&) {
    // parse_args_yaml names the syntax error
  }
  Args a;
  try {
    a = parse_args_yaml(text, overrides);
  } catch (const ConfigError& e) {
    throw ConfigError(config_file + ": " + e.what());
  }
  a.config_file = config_file;
  a.config_dir = fs::absolute(config_file).parent_path().string();
  return a;
}

}  // namespace fedsilo
