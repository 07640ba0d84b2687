#include <gtest/gtest.h>

#include <fstream>

#include "build_paths.h"
#include "comm/mqtt_options.h"
#include "core/args_json.h"
#include "fedsilo/args.h"
#include "fedsilo/error.h"
#include "test_util.h"

using namespace fedsilo;
using fedsilo::Args;
using fedsilo::ConfigError;

namespace {
const std::string kFixture =
    std::string(fedsilo::build_paths::source_dir()) + "/tests/fixtures/fedml_config.yaml";

std::string error_of(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  try {
    fedsilo::parse_args_yaml(yaml, sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Args, SeedConfigLoadsUnchanged) {
  Args a = fedsilo::load_args(kFixture);
  EXPECT_EQ(a.training_type, "cross_silo");
  EXPECT_EQ(a.dataset, "mnist");
  EXPECT_EQ(a.data_cache_dir, "./../../../data");
  EXPECT_EQ(a.partition_method, "hetero");
  EXPECT_DOUBLE_EQ(a.partition_alpha, 0.5);
  EXPECT_EQ(a.model, "lr");
  EXPECT_EQ(a.client_id_list, (std::vector<int>{1, 2}));
  EXPECT_EQ(a.client_num_in_total, 1000);
  EXPECT_EQ(a.client_num_per_round, 2);
  EXPECT_EQ(a.comm_round, 50);
  EXPECT_EQ(a.batch_size, 10);
  EXPECT_DOUBLE_EQ(a.learning_rate, 0.03);
  EXPECT_DOUBLE_EQ(a.weight_decay, 0.001);
  EXPECT_EQ(a.frequency_of_the_test, 5);
  EXPECT_EQ(a.worker_num, 2);
  EXPECT_EQ(a.backend, "MQTT_S3");
  EXPECT_EQ(a.mqtt_config_path, "config/mqtt_config.yaml");
  EXPECT_EQ(a.n_proc_per_node, 2);
  EXPECT_EQ(a.pg_master_address, "127.0.0.1");
  EXPECT_EQ(a.pg_master_port, 12345);
  EXPECT_FALSE(a.config_dir.empty());
}

TEST(Args, ClientIdListAcceptsStringAndList) {
  EXPECT_EQ(
      fedsilo::parse_args_yaml(
          "train_args: {client_id_list: '[3, 1]', client_num_per_round: 2, client_num_in_total: 2}")
          .client_id_list,
      (std::vector<int>{3, 1}));
  EXPECT_EQ(
      fedsilo::parse_args_yaml("train_args: {client_id_list: [1, 2, 5], client_num_in_total: 3}")
          .client_id_list,
      (std::vector<int>{1, 2, 5}));
  EXPECT_NE(error_of("train_args: {client_id_list: '[1, 1]'}").find("appears twice"),
            std::string::npos);
  EXPECT_NE(error_of("train_args: {client_id_list: '[0]'}").find("start at 1"), std::string::npos);
  auto nested = error_of("train_args: {client_id_list: [[1], [2]]}");
  EXPECT_NE(nested.find("a flat list of silo ids"), std::string::npos) << nested;
  EXPECT_EQ(nested.find("2147483647"), std::string::npos) << nested;
}

TEST(Args, BadValuesNameKeyValueAndWhatIsAllowed) {
  auto e = error_of("train_args: {comm_round: -3}");
  EXPECT_NE(e.find("train_args.comm_round"), std::string::npos) << e;
  EXPECT_NE(e.find("-3"), std::string::npos) << e;
  EXPECT_NE(e.find(">= 1"), std::string::npos) << e;
  e = error_of("train_args: {learning_rate: fast}");
  EXPECT_NE(e.find("train_args.learning_rate = fast: must be a number"), std::string::npos) << e;
  e = error_of("model_args: {model: resnet}");
  EXPECT_NE(e.find("must be one of: cnn, lr"), std::string::npos) << e;
  e = error_of("train_args: {client_num_per_round: 5, client_num_in_total: 2}");
  EXPECT_NE(e.find("client_num_per_round (5) exceeds"), std::string::npos) << e;
  e = error_of("train_args: [1, 2]");
  EXPECT_NE(e.find("train_args"), std::string::npos) << e;
  EXPECT_NE(error_of("a: b: c: [").find("not valid YAML"), std::string::npos);
}

TEST(Args, UnknownKeysStopTheRunAndIgnoredOnesAreNamed) {
  auto e = error_of("train_args: {comm_round: 3, comm_rounds: 9}\nextra_args: {x: 1}");
  EXPECT_NE(e.find("train_args.comm_rounds, extra_args.x are not supported"), std::string::npos)
      << e;
  std::vector<std::string> notes;
  auto a = fedsilo::parse_args_yaml(
      "environment_args: {bootstrap: config/bootstrap.sh}\ntracking_args: {wandb_key: abc}", {},
      &notes);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("environment_args.bootstrap"), std::string::npos);
  EXPECT_EQ(a.ignored_keys.size(), 2u);
}

TEST(Args, SetOverridesAreValidatedLikeFileValues) {
  Args a = fedsilo::load_args(kFixture,
                              {"train_args.comm_round=7", "train_args.client_id_list=[1, 2, 3]",
                               "data_args.partition_method=homo"});
  EXPECT_EQ(a.comm_round, 7);
  EXPECT_EQ(a.client_id_list.size(), 3u);
  EXPECT_EQ(a.partition_method, "homo");
  EXPECT_NE(error_of("", {"train_args.comm_round=0"}).find("train_args.comm_round = 0"),
            std::string::npos);
  EXPECT_NE(error_of("", {"train_args.nope=1"}).find("no config key train_args.nope"),
            std::string::npos);
  EXPECT_NE(error_of("", {"comm_round=1"}).find("section.key=value"), std::string::npos);
}

TEST(Args, MissingFileIsNamed) {
  try {
    fedsilo::load_args("/nonexistent/fedml_config.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/fedml_config.yaml"), std::string::npos);
  }
}

TEST(Args, DirectoryOrEmptyConfigFileIsAnError) {
  testutil::TempDir dir;
  for (const auto& [path, want] : std::vector<std::pair<std::string, std::string>>{
           {dir.path(), "is a directory"}, {dir / "empty.yaml", "is empty"}}) {
    if (want == "is empty") std::ofstream(path) << "\n  \n";
    try {
      fedsilo::load_args(path);
      FAIL() << path;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  }
}

TEST(Args, JsonDumpHasEveryKeyTheSchemaReads) {
  auto a = parse_args_yaml("client_silo_args: {node_rank_in_silo: 0}\n",
                           {"comm_args.mqtt_config_path=m.yaml", "train_args.comm_round=7"});
  auto j = args_to_json(a);
  EXPECT_EQ(j["comm_args"]["mqtt_config_path"], "m.yaml");
  EXPECT_EQ(j["client_silo_args"]["node_rank_in_silo"], 0);
  EXPECT_EQ(j["train_args"]["comm_round"], 7);
  EXPECT_EQ(j["train_args"]["client_id_list"], nlohmann::json::array({1}));
  EXPECT_FALSE(j["tracking_args"].contains("wandb_key")) << "ignored keys are not dumped";
}

TEST(Args, FlatKeyFilesWordErrorsLikeTheMainConfig) {
  testutil::TempDir dir;
  std::ofstream(dir / "mqtt.yaml") << "BROKER_HOST: 127.0.0.1\nBROKER_PORT: [1, 2]\n";
  try {
    comm::load_mqtt_options(dir / "mqtt.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("config BROKER_PORT = [1, 2]: must be an integer in [1, 65535]"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("mqtt.yaml"), std::string::npos) << what;
  }
  EXPECT_THROW(comm::load_mqtt_options(dir.path()), ConfigError) << "a directory is named";
}

TEST(Args, ValuesThatWouldOverflowOrExhaustMemoryAreRefused) {
  for (const auto& set :
       {"comm_args.round_timeout_s=1e10", "comm_args.online_timeout_s=1e20",
        "comm_args.resend_interval_s=1e300", "train_args.client_num_in_total=1e9",
        "train_args.client_num_in_total=1000000000", "train_args.max_samples_per_silo=-1",
        "security_args.message_signing=2"}) {
    auto e = error_of("", {set});
    EXPECT_FALSE(e.empty()) << set << " must be refused";
    std::string key(set, std::string(set).find('='));
    EXPECT_NE(e.find(key), std::string::npos) << e;
  }
}

TEST(Args, SecureAggregationKeysAreFedMLsAndWhatCannotRunStops) {
  const std::vector<std::string> two = {"train_args.client_id_list=[1, 2]",
                                        "train_args.client_num_in_total=2",
                                        "train_args.client_num_per_round=2"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.begin(), two.begin(), two.end());
    return more;
  };
  auto sa = fedsilo::parse_args_yaml("", with({"train_args.federated_optimizer=SA"}));
  EXPECT_TRUE(sa.enable_sa);
  EXPECT_EQ(sa.federated_optimizer, "FedAvg");  // SA aggregates like FedAvg
  EXPECT_TRUE(
      fedsilo::parse_args_yaml("", with({"secure_aggregation_args.enable_sa=true"})).enable_sa);
  for (const auto& sets : std::vector<std::vector<std::string>>{
           with({"train_args.federated_optimizer=LSA"}),
           with({"secure_aggregation_args.enable_sa=true",
                 "secure_aggregation_args.sa_method=lightsecagg"}),
           with({"secure_aggregation_args.enable_sa=true", "security_args.message_signing=false"}),
           {"secure_aggregation_args.enable_sa=true"}}) {  // one silo per round
    auto e = error_of("", sets);
    EXPECT_NE(e.find("secur"), std::string::npos) << sets.back() << ": " << e;
  }
  EXPECT_NE(error_of("", {"secure_aggregation_args.sa_method=other"}).find("sa_method"),
            std::string::npos);
  EXPECT_NE(
      error_of("", {"secure_aggregation_args.precision_parameter=60"}).find("precision_parameter"),
      std::string::npos);
}

TEST(Args, FedMLsEmptyClientIdListMeansSilosOneToClientNumPerRound) {
  auto a = fedsilo::parse_args_yaml(
      "train_args:\n  client_id_list:\n  client_num_per_round: 3\n  client_num_in_total: 3\n");
  EXPECT_EQ(a.client_id_list, (std::vector<int>{1, 2, 3}));
  auto b = fedsilo::parse_args_yaml(
      "train_args: {client_id_list: '[]', client_num_per_round: 2, client_num_in_total: 2}");
  EXPECT_EQ(b.client_id_list, (std::vector<int>{1, 2}));
  // worker_num, where given, is FedML's count of silos.
  auto c = fedsilo::parse_args_yaml(
      "train_args: {client_id_list: , client_num_per_round: 3, client_num_in_total: 9}\n"
      "device_args: {worker_num: 4}");
  EXPECT_EQ(c.client_id_list, (std::vector<int>{1, 2, 3, 4}));
}

TEST(Args, FedMLFeaturesFedsiloLacksStopTheRunInsteadOfRunningWithout) {
  EXPECT_NE(error_of("fhe_args: {enable_fhe: true}").find("homomorphic encryption"),
            std::string::npos);
  EXPECT_NE(error_of("tracking_args: {enable_wandb: true}").find("Weights & Biases"),
            std::string::npos);
  EXPECT_NE(error_of("common_args: {using_mlops: true}").find("MLOps"), std::string::npos);
  EXPECT_NE(error_of("dp_args: {enable_dp: 'yes please'}").find("dp_args.enable_dp"),
            std::string::npos);
  EXPECT_NE(error_of("dp_args: {enable_dp: true, dp_solution_type: nbafl}").find("cdp, ldp"),
            std::string::npos);
  EXPECT_NE(error_of("dp_args: {enable_dp: true, max_grad_norm: 1}").find("dp_args.max_grad_norm"),
            std::string::npos);
  EXPECT_NE(error_of("defense_args: {enable_defense: true, defense_type: foolsgold}")
                .find("defense_args.defense_type"),
            std::string::npos);
  EXPECT_NO_THROW(fedsilo::parse_args_yaml("dp_args: {enable_dp: false}"));
}

TEST(Args, ATrimmedMeanThatKeepsNoModelStopsTheRun) {
  auto e = error_of(
      "train_args: {client_id_list: '[1, 2]', client_num_in_total: 2, client_num_per_round: 2}\n"
      "defense_args: {enable_defense: true, defense_type: trimmed_mean, beta: 0.5}");
  EXPECT_NE(e.find("keeping none"), std::string::npos) << e;
  // 3 models with beta 0.5 keep the median; 4 with a quorum of 3 keep none when 4 come.
  EXPECT_EQ(error_of("train_args: {client_id_list: '[1, 2, 3]', client_num_in_total: 3, "
                     "client_num_per_round: 3}\n"
                     "defense_args: {enable_defense: true, defense_type: trimmed_mean, beta: 0.5}"),
            "");
  EXPECT_NE(error_of("train_args: {client_id_list: '[1, 2, 3, 4]', client_num_in_total: 4, "
                     "client_num_per_round: 4, min_clients_per_round: 3}\n"
                     "defense_args: {enable_defense: true, defense_type: trimmed_mean, beta: 0.5}")
                .find("closes with 4"),
            std::string::npos);
}

TEST(Args, AlgorithmKeysThatWouldChangeNothingStopTheRun) {
  EXPECT_NE(error_of("train_args: {server_lr: 0.5}").find("use federated_optimizer: FedOpt"),
            std::string::npos);
  EXPECT_NE(error_of("train_args: {fedprox_mu: 0.1}").find("needs federated_optimizer: FedProx"),
            std::string::npos);
  EXPECT_NE(error_of("train_args: {federated_optimizer: FedAvgM, server_optimizer: adam}")
                .find("FedAvgM is sgd"),
            std::string::npos);
  EXPECT_NE(error_of("train_args: {federated_optimizer: FedOpt, client_id_list: '[1, 2]', "
                     "client_num_per_round: 2, client_num_in_total: 2}\n"
                     "secure_aggregation_args: {enable_sa: true}")
                .find("cannot run with it"),
            std::string::npos);
  auto secure =
      "train_args: {client_id_list: '[1, 2]', client_num_per_round: 2, "
      "client_num_in_total: 2}\nsecure_aggregation_args: {enable_sa: true}\n";
  EXPECT_NE(error_of(std::string(secure) + "comm_args: {round_max_s: 3600}")
                .find("round_max_s is not supported with secure aggregation"),
            std::string::npos);
  EXPECT_NO_THROW(fedsilo::parse_args_yaml(std::string(secure) + "comm_args: {round_max_s: 0}"));
  EXPECT_NE(error_of("comm_args: {round_max_s: -1}").find("comm_args.round_max_s"),
            std::string::npos);
  EXPECT_NE(error_of("train_args: {federated_optimizer: FedDyn}").find("must be one of"),
            std::string::npos);
  EXPECT_NO_THROW(fedsilo::parse_args_yaml(
      "train_args: {federated_optimizer: SCAFFOLD, server_lr: 0.5, client_optimizer: sgd}"));
  EXPECT_NE(error_of("train_args: {federated_optimizer: SCAFFOLD, momentum: 0.9}")
                .find("assume plain SGD steps"),
            std::string::npos);
  EXPECT_NE(error_of("train_args: {federated_optimizer: SCAFFOLD, server_momentum: 0.9}")
                .find("has no server optimizer"),
            std::string::npos);
  EXPECT_NE(error_of("train_args: {federated_optimizer: SCAFFOLD}\n"
                     "defense_args: {enable_defense: true, defense_type: median}")
                .find("SCAFFOLD with defense_args"),
            std::string::npos);
  // Krum with f = 1 needs 2f + 2 + 1 = 5 models in every round.
  auto krum = "defense_args: {enable_defense: true, defense_type: krum, byzantine_client_num: 1}";
  EXPECT_NE(error_of(std::string(krum) + "\ntrain_args: {client_num_per_round: 4, "
                                         "client_num_in_total: 9, client_id_list: []}")
                .find("at least 2f + 2 + krum_param_m = 5"),
            std::string::npos);
  EXPECT_NO_THROW(fedsilo::parse_args_yaml(std::string(krum) +
                                           "\ntrain_args: {client_num_per_round: 5, "
                                           "client_num_in_total: 9, client_id_list: []}"));
  EXPECT_NE(error_of("attack_args: {enable_attack: true, attack_type: byzantine}")
                .find("byzantine_client_num = 0"),
            std::string::npos);
  auto a = fedsilo::parse_args_yaml(
      "train_args: {federated_optimizer: FedOpt, server_optimizer: yogi, server_lr: 0.01}");
  EXPECT_EQ(a.server_optimizer, "yogi");
  EXPECT_EQ(a.server_lr, 0.01);
}

TEST(Args, FedMLsExampleConfigsLoadUnchanged) {
  // Copies of FedML's own example configs (python/examples/cross_silo/...).
  for (std::string name :
       {"krum", "cdp", "ldp", "byzantine", "one_line", "hierarchical", "trimmed_mean"}) {
    auto path =
        std::string(fedsilo::build_paths::source_dir()) + "/tests/fixtures/fedml/" + name + ".yaml";
    Args a;
    ASSERT_NO_THROW(a = fedsilo::load_args(path)) << name;
    EXPECT_FALSE(a.client_id_list.empty());
    EXPECT_EQ(static_cast<int64_t>(a.client_id_list.size()),
              std::max(a.client_num_per_round, a.worker_num))
        << name;
  }
  auto krum = fedsilo::load_args(std::string(fedsilo::build_paths::source_dir()) +
                                 "/tests/fixtures/fedml/krum.yaml");
  EXPECT_TRUE(krum.enable_defense);
  EXPECT_EQ(krum.defense_type, "krum");
  EXPECT_EQ(krum.byzantine_client_num, 1);
  auto cdp = fedsilo::load_args(std::string(fedsilo::build_paths::source_dir()) +
                                "/tests/fixtures/fedml/cdp.yaml");
  EXPECT_TRUE(cdp.enable_dp);
  EXPECT_EQ(cdp.dp_solution_type, "cdp");
  EXPECT_EQ(cdp.dp_epsilon, 0.5);
  auto hier = fedsilo::load_args(std::string(fedsilo::build_paths::source_dir()) +
                                 "/tests/fixtures/fedml/hierarchical.yaml");
  EXPECT_EQ(hier.n_proc_per_node, 2) << "FedML's silo_args is client_silo_args";
  EXPECT_EQ(hier.pg_master_port, 12345);
  auto trimmed = fedsilo::load_args(std::string(fedsilo::build_paths::source_dir()) +
                                    "/tests/fixtures/fedml/trimmed_mean.yaml");
  EXPECT_EQ(trimmed.trimmed_mean_beta, 0.25);
}

TEST(Args, FedMLsDeviceTypeAndLogPathAreHonouredOrRefused) {
  EXPECT_TRUE(fedsilo::parse_args_yaml("device_args: {device_type: gpu}").using_gpu);
  EXPECT_FALSE(fedsilo::parse_args_yaml("device_args: {device_type: cpu}").using_gpu);
  EXPECT_NE(error_of("device_args: {device_type: mps}").find("Metal"), std::string::npos);
  EXPECT_NO_THROW(fedsilo::parse_args_yaml(
      "tracking_args: {log_file_dir: ./log, local_log_output_path: ./log}"));
  EXPECT_NE(error_of("tracking_args: {log_file_dir: ./log, local_log_output_path: /var/log/x}")
                .find("set that one instead"),
            std::string::npos);
}

TEST(Args, QuorumAndRetriesAreBoundedAndDefaultToTodaysBehaviour) {
  auto a = fedsilo::parse_args_yaml(
      "train_args: {client_id_list: '[1, 2, 3]', client_num_per_round: 3, client_num_in_total: 3}");
  EXPECT_EQ(a.min_clients_per_round, 3) << "default: every selected silo";
  EXPECT_EQ(a.round_retries, 2);
  EXPECT_NE(error_of("train_args: {client_id_list: '[1, 2]', client_num_per_round: 2, "
                     "client_num_in_total: 2, min_clients_per_round: 3}")
                .find("min_clients_per_round (3) exceeds"),
            std::string::npos);
  EXPECT_NE(error_of("train_args: {min_clients_per_round: -1}").find("min_clients_per_round"),
            std::string::npos);
  EXPECT_NE(error_of("comm_args: {round_retries: 1000000}").find("round_retries"),
            std::string::npos);
}

TEST(Args, TrackingKeysForTheDashboardAndTensorBoard) {
  auto a = fedsilo::parse_args_yaml(
      "tracking_args: {dashboard_port: 8470, dashboard_address: '::1', dashboard_linger_s: 30, "
      "tensorboard_dir: ./tb}");
  EXPECT_EQ(a.dashboard_port, 8470);
  EXPECT_EQ(a.dashboard_address, "::1");
  EXPECT_EQ(a.dashboard_linger_s, 30);
  EXPECT_EQ(a.tensorboard_dir, "./tb");
  auto d = fedsilo::parse_args_yaml("");
  EXPECT_EQ(d.dashboard_port, 0) << "off unless asked for";
  EXPECT_EQ(d.dashboard_address, "127.0.0.1");
  EXPECT_NE(error_of("tracking_args: {dashboard_port: 70000}").find("tracking_args.dashboard_port"),
            std::string::npos);
  EXPECT_NE(
      error_of("tracking_args: {dashboard_linger_s: -1}").find("tracking_args.dashboard_linger_s"),
      std::string::npos);
}
