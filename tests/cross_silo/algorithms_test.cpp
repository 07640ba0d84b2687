// Federated optimizers, defenses, attacks and DP, end to end through simulate (the same
// ServerManager and SiloMaster as the distributed mode), and FedML's own example configs.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "build_paths.h"
#include "fedsilo/simulate.h"
#include "test_util.h"

using namespace fedsilo;

namespace {
std::vector<nlohmann::json> metrics_of(const RunSummary& s) {
  std::ifstream in(s.output_dir + "/metrics.jsonl");
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::string final_model(const RunSummary& s) {
  return testutil::read_file(s.output_dir + "/final_model.safetensors");
}

// A FedML example config as it is, with only the data and output folders pointed here.
// Each call gets its own output folder: a second run in the same folder would resume the first.
Args fedml_example(const std::string& name, const testutil::TempDir& dir,
                   std::vector<std::string> sets = {}) {
  static int runs = 0;
  sets.push_back("data_args.data_cache_dir=" + dir.path());
  sets.push_back("tracking_args.log_file_dir=" + (dir / fmt::format("log_{}_{}", name, ++runs)));
  return load_args(
      std::string(fedsilo::build_paths::source_dir()) + "/tests/fixtures/fedml/" + name + ".yaml",
      sets);
}

double accuracy(const RunSummary& s) { return s.final_metrics["test_acc"].get<double>(); }
}  // namespace

TEST(FedMLExamples, KrumConfigRunsUnchangedAndKeepsOneModelPerRound) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 4000, 200);
  auto args = fedml_example("krum", dir);
  EXPECT_EQ(args.client_id_list.size(), 10u) << "empty client_id_list: silos 1..worker_num";
  auto summary = simulate(args);
  auto lines = metrics_of(summary);
  ASSERT_EQ(lines.size(), 10u);
  for (const auto& j : lines) {
    EXPECT_EQ(j["silos"].size(), 10u);
    EXPECT_EQ(j["aggregation"]["defense_models_kept"], 1) << j.dump();
  }
}

TEST(FedMLExamples, CrossSiloExamplesWithAnEmptyClientIdListRunUnchanged) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 2000, 200);
  auto one_line = simulate(fedml_example("one_line", dir));
  EXPECT_EQ(metrics_of(one_line).size(), 2u);
  auto trimmed = simulate(fedml_example("trimmed_mean", dir));
  auto lines = metrics_of(trimmed);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0]["silos"].size(), 10u) << "silos 1..worker_num";
  EXPECT_TRUE(final_model(trimmed) !=
              final_model(simulate(
                  fedml_example("trimmed_mean", dir, {"defense_args.enable_defense=false"}))))
      << "the trimmed mean must change the aggregate";
}

TEST(FedMLExamples, CentralDpConfigAddsTheCalibratedNoise) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 2000, 200);
  auto args = fedml_example("cdp", dir);
  auto dp = simulate(args);
  auto lines = metrics_of(dp);
  ASSERT_EQ(lines.size(), 5u);
  double sigma = std::sqrt(2 * std::log(1.25 / 0.1)) / 0.5;  // sensitivity 1, epsilon 0.5
  for (const auto& j : lines)
    EXPECT_NEAR(j["aggregation"]["dp_noise_scale"].get<double>(), sigma, 1e-9);
  auto plain = simulate(fedml_example("cdp", dir, {"dp_args.enable_dp=false"}));
  EXPECT_TRUE(final_model(dp) != final_model(plain));
  // Noise with sigma 4.5 on every weight: what FedML's example asks for ruins the model.
  EXPECT_LT(accuracy(dp), accuracy(plain));
}

TEST(FedMLExamples, LocalDpConfigNoisesEachSilosUpload) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 2000, 200);
  auto dp = simulate(fedml_example("ldp", dir));
  auto plain = simulate(fedml_example("ldp", dir, {"dp_args.enable_dp=false"}));
  EXPECT_TRUE(final_model(dp) != final_model(plain));
  EXPECT_LT(accuracy(dp), accuracy(plain));
}

TEST(FedMLExamples, ByzantineConfigRunsWithOneAttacker) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 2000, 200);
  auto args = fedml_example("byzantine", dir);
  EXPECT_EQ(args.client_id_list.size(), 4u);
  auto attacked = simulate(args);
  auto honest = simulate(fedml_example("byzantine", dir, {"attack_args.enable_attack=false"}));
  EXPECT_TRUE(final_model(attacked) != final_model(honest));
}

TEST(Defenses, AnAttackLowersAccuracyAndADefenseRestoresMostOfIt) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 1500, 300, 1, true, /*faint=*/40);
  std::vector<std::string> five = {"train_args.client_id_list=[1, 2, 3, 4, 5]",
                                   "train_args.client_num_in_total=5",
                                   "train_args.client_num_per_round=5",
                                   "data_args.partition_method=homo", "train_args.comm_round=10"};
  auto with = [&](const std::string& name, std::vector<std::string> more) {
    auto sets = five;
    sets.insert(sets.end(), more.begin(), more.end());
    return accuracy(simulate(testutil::small_args(dir.path(), dir / name, sets)));
  };
  std::vector<std::string> attack = {
      "attack_args.enable_attack=true", "attack_args.attack_type=byzantine",
      "attack_args.attack_mode=random", "attack_args.byzantine_client_num=1"};
  double clean = with("clean", {});
  double attacked = with("attacked", attack);
  EXPECT_LT(attacked, clean - 0.2) << "the attack must hurt for the test to mean anything";
  for (std::string type : {"krum", "coordinate_wise_median", "geometric_median"}) {
    auto sets = attack;
    sets.push_back("defense_args.enable_defense=true");
    sets.push_back("defense_args.byzantine_client_num=1");
    sets.push_back("defense_args.defense_type=" + type);
    double defended = with(type, sets);
    // "Most of it": more than half of what the attack took. Krum keeps one silo's model (a
    // fifth of the data), so it cannot match five silos' mean.
    EXPECT_GT(defended - attacked, 0.5 * (clean - attacked))
        << type << ": clean " << clean << ", attacked " << attacked << ", defended " << defended;
  }
}

TEST(Optimizers, EachChangesTheRunAndTheDegenerateOnesAreFedAvg) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 600, 100);
  auto run = [&](const std::string& name, std::vector<std::string> sets) {
    return final_model(simulate(testutil::small_args(dir.path(), dir / name, sets)));
  };
  auto fedavg = run("fedavg", {});
  // Compared as booleans: a failure should not print two model files.
  EXPECT_TRUE(run("fedopt_identity", {"train_args.federated_optimizer=FedOpt"}) == fedavg);
  EXPECT_TRUE(run("fedprox_zero",
                  {"train_args.federated_optimizer=FedProx", "train_args.fedprox_mu=0"}) == fedavg);
  EXPECT_TRUE(run("fedprox", {"train_args.federated_optimizer=FedProx",
                              "train_args.fedprox_mu=0.5"}) != fedavg);
  EXPECT_TRUE(run("fedavgm", {"train_args.federated_optimizer=FedAvgM",
                              "train_args.server_momentum=0.9"}) != fedavg);
  // Silos with different data sizes take different numbers of steps: FedNova differs.
  EXPECT_TRUE(run("fednova", {"train_args.federated_optimizer=FedNova"}) != fedavg);
  // SCAFFOLD's round 0 is FedAvg's (every control variate starts at 0); its corrections steer
  // the later rounds, and every round's line says how far its control variate has moved.
  auto scaffold = simulate(testutil::small_args(dir.path(), dir / "scaffold",
                                                {"train_args.federated_optimizer=SCAFFOLD"}));
  EXPECT_TRUE(final_model(scaffold) != fedavg);
  for (const auto& line : metrics_of(scaffold)) {
    EXPECT_EQ(line["aggregation"]["scaffold_controls_updated"], 2) << line.dump();
    EXPECT_GT(line["aggregation"]["scaffold_control_norm"].get<double>(), 0) << line.dump();
  }
  EXPECT_GT(accuracy(scaffold), 0.5);
  for (std::string opt : {"adam", "yogi", "adagrad"}) {
    EXPECT_TRUE(run("fedopt_" + opt,
                    {"train_args.federated_optimizer=FedOpt", "train_args.server_optimizer=" + opt,
                     "train_args.server_lr=0.01"}) != fedavg)
        << opt;
  }
}

TEST(DifferentialPrivacy, TheAccountantsEpsilonIsInEveryRoundAndTheReport) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 1000, 100);
  auto summary = simulate(fedml_example("cdp", dir, {"dp_args.enable_rdp_accountant=true"}));
  auto lines = metrics_of(summary);
  ASSERT_EQ(lines.size(), 5u);
  double previous = 0;
  for (const auto& j : lines) {
    double eps = j["aggregation"]["dp_epsilon"].get<double>();
    EXPECT_GT(eps, previous) << "epsilon grows with every release";
    previous = eps;
  }
  auto report = testutil::read_file(summary.output_dir + "/report.html");
  EXPECT_NE(report.find("spent so far"), std::string::npos);
  EXPECT_NE(report.find(fmt::format("{:.4g}", previous)), std::string::npos);
}
