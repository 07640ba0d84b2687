// Final and best test accuracy of each federated optimizer and each defense on the data sets we
// ship (MNIST and Fashion-MNIST, Dirichlet alpha = 0.5), through simulate:
//   - optimizers: 10 silos, every silo every round;
//   - defenses: 5 silos, 1 of them byzantine (attack_mode random), against FedAvg with and
//     without the attack.
//
//   build/bench/bench_algorithms [rounds=30] [dataset=all|mnist|fashion_mnist] [model=lr]
//
// Prints one markdown table (docs/benchmarks.md, "Algorithms"). Needs scripts/get-data.sh.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "build_paths.h"
#include "core/log.h"
#include "fedsilo/simulate.h"

using namespace fedsilo;
namespace fs = std::filesystem;

namespace {

struct Setting {
  std::string name;
  std::vector<std::string> sets;
  bool attacked = false;  // the 5-silo defense table
};

struct Result {
  double final_acc = 0, best_acc = 0, wall_s = 0;
};

Result run(const std::string& dataset, const std::string& model, int rounds, const Setting& s,
           const fs::path& out) {
  int silos = s.attacked ? 5 : 10;
  std::string ids = "[1";
  for (int i = 2; i <= silos; ++i) ids += fmt::format(", {}", i);
  ids += "]";
  std::string yaml = fmt::format(
      "common_args: {{training_type: cross_silo, random_seed: 0}}\n"
      "data_args: {{dataset: {}, data_cache_dir: '{}/data', partition_method: hetero, "
      "partition_alpha: 0.5}}\n"
      "model_args: {{model: {}}}\n"
      "train_args: {{client_id_list: '{}', client_num_in_total: {}, client_num_per_round: {}, "
      "comm_round: {}, epochs: 1, batch_size: 32, client_optimizer: sgd, learning_rate: 0.05}}\n"
      "validation_args: {{frequency_of_the_test: 1}}\n"
      "comm_args: {{backend: INPROC}}\n"
      "tracking_args: {{log_file_dir: '{}', log_level: error}}\n",
      dataset, fedsilo::build_paths::source_dir(), model, ids, silos, silos, rounds, out.string());
  auto args = parse_args_yaml(yaml, s.sets);
  args.run_id = s.name;
  auto summary = simulate(args);
  Result r;
  r.wall_s = summary.wall_s;
  r.final_acc = summary.final_metrics.value("test_acc", 0.0);
  std::ifstream in(summary.output_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("test_acc")) r.best_acc = std::max(r.best_acc, j["test_acc"].get<double>());
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  logging::init("", "error");  // the table only; attackers would log a warning every round
  int rounds = argc > 1 ? std::atoi(argv[1]) : 30;
  std::string which = argc > 2 ? argv[2] : "all";
  std::string model = argc > 3 ? argv[3] : "lr";
  std::vector<std::string> datasets;
  if (which == "all" || which == "mnist") datasets.push_back("mnist");
  if (which == "all" || which == "fashion_mnist") datasets.push_back("fashion_mnist");
  const std::vector<std::string> attack = {
      "attack_args.enable_attack=true", "attack_args.attack_type=byzantine",
      "attack_args.attack_mode=random", "attack_args.byzantine_client_num=1"};
  auto defended = [&](std::vector<std::string> d) {
    auto s = attack;
    s.push_back("defense_args.enable_defense=true");
    s.insert(s.end(), d.begin(), d.end());
    return s;
  };
  const std::vector<Setting> settings = {
      {"FedAvg", {}},
      {"FedProx mu=0.01", {"train_args.federated_optimizer=FedProx", "train_args.fedprox_mu=0.01"}},
      {"FedNova", {"train_args.federated_optimizer=FedNova"}},
      {"SCAFFOLD", {"train_args.federated_optimizer=SCAFFOLD"}},
      {"FedAvgM lr=1 momentum=0.5",
       {"train_args.federated_optimizer=FedAvgM", "train_args.server_momentum=0.5"}},
      {"FedOpt adam lr=0.01",
       {"train_args.federated_optimizer=FedOpt", "train_args.server_optimizer=adam",
        "train_args.server_lr=0.01"}},
      {"FedOpt yogi lr=0.01",
       {"train_args.federated_optimizer=FedOpt", "train_args.server_optimizer=yogi",
        "train_args.server_lr=0.01"}},
      {"FedOpt adagrad lr=0.01",
       {"train_args.federated_optimizer=FedOpt", "train_args.server_optimizer=adagrad",
        "train_args.server_lr=0.01"}},
      {"5 silos, no attack", {}, true},
      {"1 byzantine, no defense", attack, true},
      {"1 byzantine, krum",
       defended({"defense_args.defense_type=krum", "defense_args.byzantine_client_num=1"}), true},
      {"1 byzantine, coordinate_wise_median",
       defended({"defense_args.defense_type=coordinate_wise_median"}), true},
      {"1 byzantine, trimmed_mean beta=0.2",
       defended(
           {"defense_args.defense_type=coordinate_wise_trimmed_mean", "defense_args.beta=0.2"}),
       true},
      {"1 byzantine, geometric_median", defended({"defense_args.defense_type=geometric_median"}),
       true},
      {"1 byzantine, norm_diff_clipping 1",
       defended({"defense_args.defense_type=norm_diff_clipping", "defense_args.norm_bound=1"}),
       true},
  };
  auto out = fs::temp_directory_path() / fmt::format("fedsilo-bench-algorithms-{}", getpid());
  fmt::print("{} rounds, model {}, Dirichlet alpha 0.5, 1 epoch, batch 32, lr 0.05\n\n", rounds,
             model);
  fmt::print(
      "| data | silos | setting | final acc | best acc | wall s |\n|---|---|---|---|---|---|\n");
  for (const auto& d : datasets) {
    for (const auto& s : settings) {
      auto r = run(d, model, rounds, s, out / d);
      fmt::print("| {} | {} | {} | {:.4f} | {:.4f} | {:.1f} |\n", d, s.attacked ? 5 : 10, s.name,
                 r.final_acc, r.best_acc, r.wall_s);
      std::fflush(stdout);
    }
  }
  fs::remove_all(out);
  return 0;
}
