#include "fedsilo/args.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "core/log.h"
#include "fedsilo/error.h"

namespace fedsilo {
namespace {

std::string show(const YAML::Node& n) {
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << n;
  return out.c_str();
}

[[noreturn]] void bad(const std::string& key, const YAML::Node& value, const std::string& allowed) {
  throw ConfigError("config " + key + " = " + show(value) + ": " + allowed);
}

// One readable key: where it lives and how to store it. A table of these is the whole schema,
// so validation, unknown-key warnings and --set all agree on what exists.
struct Field {
  const char* section;
  const char* key;
  std::function<void(Args&, const YAML::Node&, const std::string& path)> read;
};

template <typename T>
T scalar(const YAML::Node& n, const std::string& path, const char* what) {
  if (!n.IsScalar()) bad(path, n, std::string("must be ") + what);
  try {
    return n.as<T>();
  } catch (const YAML::Exception&) {
    bad(path, n, std::string("must be ") + what);
  }
}

auto integer(int64_t Args::*f, int64_t lo, int64_t hi = INT64_MAX) {
  return [f, lo, hi](Args& a, const YAML::Node& n, const std::string& path) {
    int64_t v = scalar<int64_t>(n, path, "an integer");
    if (v < lo || v > hi) {
      bad(path, n,
          hi == INT64_MAX ? fmt::format("must be an integer >= {}", lo)
                          : fmt::format("must be an integer in [{}, {}]", lo, hi));
    }
    a.*f = v;
  };
}

auto real(double Args::*f, double lo, bool lo_open, double hi = 1e300) {
  return [=](Args& a, const YAML::Node& n, const std::string& path) {
    double v = scalar<double>(n, path, "a number");
    if (!(lo_open ? v > lo : v >= lo) || v > hi || std::isnan(v)) {
      bad(path, n,
          fmt::format("must be a number {} {}{}", lo_open ? ">" : ">=", lo,
                      hi < 1e300 ? fmt::format(" and <= {}", hi) : ""));
    }
    a.*f = v;
  };
}

auto text(std::string Args::*f) {
  return [f](Args& a, const YAML::Node& n, const std::string& path) {
    a.*f = scalar<std::string>(n, path, "a string");
  };
}

auto choice(std::string Args::*f, std::vector<std::string> allowed) {
  return [f, allowed](Args& a, const YAML::Node& n, const std::string& path) {
    auto v = scalar<std::string>(n, path, "a string");
    for (const auto& ok : allowed) {
      if (v == ok) {
        a.*f = v;
        return;
      }
    }
    bad(path, n, fmt::format("must be one of: {}", fmt::join(allowed, ", ")));
  };
}

auto boolean(bool Args::*f) {
  return [f](Args& a, const YAML::Node& n, const std::string& path) {
    a.*f = scalar<bool>(n, path, "true or false");
  };
}

auto ignored() {
  return [](Args&, const YAML::Node&, const std::string&) {};
}

// FedML writes client_id_list as the string "[1, 2]"; a YAML list is accepted too.
void read_id_list(Args& a, const YAML::Node& n, const std::string& path) {
  YAML::Node list = n;
  if (n.IsScalar()) {
    try {
      list = YAML::Load(n.as<std::string>());
    } catch (const YAML::Exception&) {
      bad(path, n, "must be a list of silo ids like \"[1, 2]\"");
    }
  }
  if (!list.IsSequence() || list.size() == 0) {
    bad(path, n, "must be a non-empty list of silo ids like \"[1, 2]\"");
  }
  std::vector<int> ids;
  std::set<int> seen;
  for (const auto& e : list) {
    int id = scalar<int>(e, path, "a list of integers");
    if (id < 1) bad(path, n, "silo ids start at 1 (rank 0 is the server)");
    if (!seen.insert(id).second) bad(path, n, fmt::format("silo id {} appears twice", id));
    ids.push_back(id);
  }
  a.client_id_list = ids;
}

const std::vector<Field>& schema() {
  static const std::vector<Field> fields = {
      {"common_args", "training_type", choice(&Args::training_type, {"cross_silo"})},
      {"common_args", "scenario", choice(&Args::scenario, {"hierarchical", "horizontal"})},
      {"common_args", "random_seed", integer(&Args::random_seed, 0)},
      {"common_args", "config_version", ignored()},
      {"common_args", "using_mlops", ignored()},
      {"data_args", "dataset", choice(&Args::dataset, {"mnist", "fashion_mnist"})},
      {"data_args", "data_cache_dir", text(&Args::data_cache_dir)},
      {"data_args", "partition_method",
       choice(&Args::partition_method, {"homo", "hetero", "natural"})},
      {"data_args", "partition_alpha", real(&Args::partition_alpha, 0, true)},
      {"data_args", "partition_min_size", integer(&Args::partition_min_size, 0)},
      {"model_args", "model", choice(&Args::model, {"lr", "cnn"})},
      {"model_args", "model_file_cache_folder", text(&Args::model_file_cache_folder)},
      {"model_args", "global_model_file_path", text(&Args::global_model_file_path)},
      {"train_args", "federated_optimizer", choice(&Args::federated_optimizer, {"FedAvg"})},
      {"train_args", "client_id_list", read_id_list},
      {"train_args", "client_num_in_total", integer(&Args::client_num_in_total, 1)},
      {"train_args", "client_num_per_round", integer(&Args::client_num_per_round, 1)},
      {"train_args", "comm_round", integer(&Args::comm_round, 1)},
      {"train_args", "epochs", integer(&Args::epochs, 1)},
      {"train_args", "batch_size", integer(&Args::batch_size, 1)},
      {"train_args", "client_optimizer", choice(&Args::client_optimizer, {"sgd", "adam"})},
      {"train_args", "learning_rate", real(&Args::learning_rate, 0, true)},
      {"train_args", "momentum", real(&Args::momentum, 0, false, 1)},
      {"train_args", "weight_decay", real(&Args::weight_decay, 0, false)},
      {"validation_args", "frequency_of_the_test", integer(&Args::frequency_of_the_test, 1)},
      {"device_args", "worker_num", integer(&Args::worker_num, 1)},
      {"device_args", "using_gpu", boolean(&Args::using_gpu)},
      {"device_args", "gpu_mapping_file", text(&Args::gpu_mapping_file)},
      {"device_args", "gpu_mapping_key", text(&Args::gpu_mapping_key)},
      {"device_args", "num_threads", integer(&Args::num_threads, 1, 1024)},
      {"comm_args", "backend", choice(&Args::backend, {"MQTT_S3", "INPROC"})},
      {"comm_args", "mqtt_config_path", text(&Args::mqtt_config_path)},
      {"comm_args", "s3_config_path", text(&Args::s3_config_path)},
      {"comm_args", "online_timeout_s", real(&Args::online_timeout_s, 0, true)},
      {"comm_args", "round_timeout_s", real(&Args::round_timeout_s, 0, true)},
      {"comm_args", "resend_interval_s", real(&Args::resend_interval_s, 0, true)},
      {"comm_args", "object_store", text(&Args::object_store)},
      {"comm_args", "blob_retention_rounds", integer(&Args::blob_retention_rounds, 0)},
      {"tracking_args", "log_file_dir", text(&Args::log_file_dir)},
      {"tracking_args", "log_level",
       choice(&Args::log_level, {"trace", "debug", "info", "warn", "error"})},
      {"tracking_args", "enable_wandb", boolean(&Args::enable_wandb)},
      {"tracking_args", "wandb_key", ignored()},
      {"tracking_args", "wandb_project", ignored()},
      {"tracking_args", "wandb_name", ignored()},
      {"client_silo_args", "n_node_in_silo", integer(&Args::n_node_in_silo, 1, 4096)},
      {"client_silo_args", "n_proc_per_node", integer(&Args::n_proc_per_node, 1, 4096)},
      {"client_silo_args", "node_rank_in_silo", integer(&Args::node_rank_in_silo, 0)},
      {"client_silo_args", "pg_master_address", text(&Args::pg_master_address)},
      {"client_silo_args", "pg_master_port", integer(&Args::pg_master_port, 1, 65535)},
  };
  return fields;
}

const Field* find_field(const std::string& section, const std::string& key) {
  for (const auto& f : schema()) {
    if (section == f.section && key == f.key) return &f;
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

void check_consistency(const Args& a) {
  auto fail = [](const std::string& msg) { throw ConfigError("config: " + msg); };
  if (a.client_num_per_round > a.client_num_in_total) {
    fail(fmt::format(
        "train_args.client_num_per_round ({}) exceeds train_args.client_num_in_total ({})",
        a.client_num_per_round, a.client_num_in_total));
  }
  if (a.client_num_per_round > static_cast<int64_t>(a.client_id_list.size())) {
    fail(fmt::format(
        "train_args.client_num_per_round ({}) exceeds the number of silos in "
        "train_args.client_id_list ({}); each silo trains one data silo per round, so list "
        "more silos, e.g. --set train_args.client_id_list=\"[1, ..., {}]\"",
        a.client_num_per_round, a.client_id_list.size(), a.client_num_per_round));
  }
  if (a.node_rank_in_silo >= a.n_node_in_silo) {
    fail(fmt::format("client_silo_args.node_rank_in_silo ({}) must be < n_node_in_silo ({})",
                     a.node_rank_in_silo, a.n_node_in_silo));
  }
  if (a.rank < 0) fail(fmt::format("--rank {} must be >= 0", a.rank));
  if (a.object_store != "s3" && a.object_store.rfind("file://", 0) != 0) {
    fail("comm_args.object_store = " + a.object_store + ": must be s3 or file://<folder>");
  }
}

}  // namespace

std::string Args::run_output_dir() const {
  return (std::filesystem::path(log_file_dir) / ("run_" + run_id)).string();
}

std::string Args::resolve(const std::string& path) const {
  namespace fs = std::filesystem;
  if (path.empty() || fs::path(path).is_absolute() || fs::exists(path) || config_dir.empty())
    return path;
  return (fs::path(config_dir) / path).string();
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
  for (const auto& sec : root) {
    auto section = sec.first.as<std::string>();
    if (!sec.second.IsMap()) {
      if (sec.second.IsNull()) continue;
      bad(section, sec.second, "must be a mapping of keys");
    }
    for (const auto& kv : sec.second) {
      auto key = kv.first.as<std::string>();
      const Field* f = find_field(section, key);
      if (!f) {
        unknown.push_back(section + "." + key);
        continue;
      }
      if (kv.second.IsNull()) continue;  // "key:" with no value keeps the default
      f->read(a, kv.second, section + "." + key);
    }
  }
  for (const auto& k : unknown) {
    std::string w = "config key " + k + " is not known to fedsilo and is ignored";
    if (warnings) warnings->push_back(w);
    SPDLOG_WARN("{}", w);
  }
  check_consistency(a);
  return a;
}

Args load_args(const std::string& config_file, const std::vector<std::string>& overrides) {
  namespace fs = std::filesystem;
  std::ifstream in(config_file);
  if (!in) throw ConfigError("config file " + config_file + ": cannot be opened");
  std::stringstream ss;
  ss << in.rdbuf();
  Args a;
  try {
    a = parse_args_yaml(ss.str(), overrides);
  } catch (const ConfigError& e) {
    throw ConfigError(config_file + ": " + e.what());
  }
  a.config_file = config_file;
  a.config_dir = fs::absolute(config_file).parent_path().string();
  return a;
}

}  // namespace fedsilo
