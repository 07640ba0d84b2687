#pragma once
// Typed view of a FedML-compatible fedml_config.yaml plus the command line.
// Field names and sections follow FedML so a user's config loads unchanged; keys that FedML has
// but fedsilo does not use (wandb, mlops) are accepted and ignored (docs/config.md).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fedsilo {

struct Args {
  // common_args
  std::string training_type = "cross_silo";
  std::string scenario = "hierarchical";
  int64_t random_seed = 0;

  // data_args
  std::string dataset = "mnist";
  std::string data_cache_dir = "./data";
  std::string partition_method = "hetero";
  double partition_alpha = 0.5;
  int64_t partition_min_size = 10;  // FedML's hard-coded min_require_size, made a key

  // model_args
  std::string model = "lr";
  std::string model_file_cache_folder = "./model_file_cache";
  std::string global_model_file_path;

  // train_args
  std::string federated_optimizer = "FedAvg";
  std::vector<int> client_id_list = {1};
  int64_t client_num_in_total = 1;
  int64_t client_num_per_round = 1;
  int64_t comm_round = 10;
  int64_t epochs = 1;
  int64_t batch_size = 10;
  std::string client_optimizer = "sgd";
  double learning_rate = 0.03;
  double momentum = 0.0;
  double weight_decay = 0.0;
  // Upper bound on the num_samples (FedAvg weight) a silo may report; 0 = only the data
  // silo's own size bounds it (when the server knows the partition).
  int64_t max_samples_per_silo = 0;
  // Quorum: a round whose deadline passes closes with the models of at least this many silos
  // (docs/protocol.md "Quorum"); 0 = client_num_per_round, every selected silo.
  int64_t min_clients_per_round = 0;
  // Server optimizer of FedOpt / FedAvgM (Reddi et al. 2021): the server steps on the
  // pseudo-gradient (global - average). sgd with lr 1 and momentum 0 is FedAvg exactly.
  std::string server_optimizer = "sgd";  // sgd | adam | yogi | adagrad
  double server_lr = 1.0;
  double server_momentum = 0.0;  // sgd's momentum (FedAvgM)
  double server_beta1 = 0.9;     // adam / yogi / adagrad first moment
  double server_beta2 = 0.99;    // adam / yogi second moment
  double server_epsilon = 1e-3;  // tau: the adaptivity floor
  double fedprox_mu = 0.0;       // FedProx: weight of the proximal term (mu / 2) |w - w_global|^2

  // validation_args
  int64_t frequency_of_the_test = 1;

  // device_args
  int64_t worker_num = 1;
  bool using_gpu = false;
  std::string gpu_mapping_file;
  std::string gpu_mapping_key;
  int64_t num_threads = 1;  // intra-op threads per process; 1 keeps results bit-reproducible

  // comm_args
  std::string backend = "MQTT_S3";
  std::string mqtt_config_path;
  std::string s3_config_path;
  double online_timeout_s = 600;  // how long the server waits for silos to come online
  double round_timeout_s = 600;   // how long the server waits for a round's models
  double round_max_s = 0;  // a round attempt's hard cap, progress or not; 0 = 10 x round_timeout_s
  double resend_interval_s = 10;      // a wait this long without progress re-sends the last request
  std::string object_store = "s3";    // "s3" (s3_config_path) or "file://<folder>"
  int64_t blob_retention_rounds = 1;  // model blobs of the last N rounds stay in the store
  int64_t round_retries = 2;  // a round below quorum at its deadline is asked again this often

  // tracking_args
  std::string log_file_dir = "./log";
  std::string log_level = "info";
  std::string local_log_output_path;  // FedML's; accepted only where it names log_file_dir
  bool enable_wandb = false;
  // The live dashboard, /api/status and /metrics (docs/monitoring.md); 0 = off.
  int64_t dashboard_port = 0;
  std::string dashboard_address = "127.0.0.1";  // anything but loopback needs a token
  double dashboard_linger_s = 0;  // keep serving the final state this long after the run ends
  std::string tensorboard_dir;    // TensorBoard event files; empty = off

  // defense_args: robust aggregation (docs/algorithms.md)
  bool enable_defense = false;
  std::string defense_type;  // krum | multikrum | coordinate_wise_median |
                             // coordinate_wise_trimmed_mean | geometric_median | norm_diff_clipping
  int64_t byzantine_client_num = 0;  // f: the silos a rule must tolerate
  int64_t krum_param_m = 1;          // models Multi-Krum averages (1 = Krum)
  double trimmed_mean_beta = 0.1;    // FedML's beta: fraction cut at each end per coordinate
  double norm_bound = 5.0;           // norm_diff_clipping: L2 bound of each silo's update
  int64_t geometric_median_iterations = 100;

  // attack_args: silos that misbehave on purpose, to measure a defense
  bool enable_attack = false;
  std::string attack_type;             // byzantine | label_flipping
  std::string attack_mode = "random";  // byzantine: random | zero | flip
  int64_t attack_byzantine_client_num = 0;
  double ratio_of_poisoned_client = 0;  // label_flipping: fraction of the silos that flip
  std::vector<int> original_class_list;
  std::vector<int> target_class_list;

  // dp_args: differential privacy (docs/algorithms.md, "Differential privacy")
  bool enable_dp = false;
  std::string dp_solution_type = "cdp";     // cdp (server) | ldp (each silo)
  std::string mechanism_type = "gaussian";  // gaussian | laplace
  double dp_epsilon = 1.0;                  // per round
  double dp_delta = 1e-5;                   // per round (gaussian)
  double dp_sensitivity = 1.0;
  double dp_clipping_norm = 0;  // each update's norm bound; 0 = sensitivity
  bool enable_rdp_accountant = false;
  double rdp_alpha = 0;  // one Renyi order to report at; 0 = the best of a standard grid

  // security_args
  bool message_signing = true;  // false: an explicit, warned opt-out (forged messages accepted)
  std::string key_dir;          // signing keys; empty = <log_file_dir>/keys

  // secure_aggregation_args (FedML's keys; docs/config.md, docs/protocol.md "Secure
  // aggregation"). federated_optimizer SA sets enable_sa; LightSecAgg stops the run (exit 2).
  bool enable_sa = false;
  std::string sa_method = "secagg";  // secagg | lightsecagg
  int64_t prime_number = (int64_t(1) << 61) - 1;
  int64_t precision_parameter = 16;  // fractional bits of the fixed-point encoding

  // client_silo_args
  int64_t n_node_in_silo = 1;
  int64_t n_proc_per_node = 1;
  int64_t node_rank_in_silo = 0;
  std::string pg_master_address = "127.0.0.1";
  int64_t pg_master_port = 29500;

  // command line
  int64_t rank = 0;
  std::string run_id = "0";
  std::string config_file;  // as given with --cf
  std::string config_dir;   // folder of the config file: relative paths also resolve here
  std::vector<std::string> ignored_keys;  // "section.key: why", FedML keys that do not matter here

  // Numeric keys a component registered (register_config_key): "section.key" -> value.
  std::map<std::string, double> extra;
  // A registered key's value: the config's, else its default. Throws ConfigError for a key
  // nobody registered.
  double extra_value(const std::string& key) const;

  int64_t n_proc_in_silo() const { return n_node_in_silo * n_proc_per_node; }
  // Folder for this run's outputs (metrics.jsonl, final model, logs).
  std::string run_output_dir() const;
  // A path from the config: as given when it exists (FedML resolves against the working
  // directory), otherwise relative to the config file's folder.
  std::string resolve(const std::string& path) const;
  // The folder of the signing keys (security_args.key_dir).
  std::string signing_key_dir() const;
};

// Adds a numeric config key owned by a component outside the schema (an aggregation rule's
// hyperparameter): the config accepts it within [lo, hi], --set reaches it, the run's recorded
// config holds it. Register before loading the config (a static initializer does).
void register_config_key(const std::string& section, const std::string& key, double default_value,
                         double lo, double hi);

// Loads a config file. `overrides` are "section.key=value" strings applied before validation,
// so overridden values are checked exactly like values from the file. Throws ConfigError.
Args load_args(const std::string& config_file, const std::vector<std::string>& overrides = {});

// Parses and validates YAML text (for tests and embedded configs). Throws ConfigError.
Args parse_args_yaml(const std::string& yaml_text, const std::vector<std::string>& overrides = {},
                     std::vector<std::string>* warnings = nullptr);

}  // namespace fedsilo
