// Checks across keys, after every key has been read on its own: what cannot run together, and
// keys that would change nothing for the algorithm chosen (a silent no-op is refused).
#include "core/args_checks.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/rule_checks.h"
#include "fedsilo/error.h"

namespace fedsilo {

void config_fail(const std::string& msg) { throw ConfigError("config: " + msg); }

void refuse_server_keys(const Args& a, bool server_lr_alone_ok) {
  const Args d;
  std::vector<std::string> keys;
  if (a.server_optimizer != d.server_optimizer) keys.push_back("server_optimizer");
  if (a.server_lr != d.server_lr) keys.push_back("server_lr");
  if (a.server_momentum != d.server_momentum) keys.push_back("server_momentum");
  if (a.server_beta1 != d.server_beta1) keys.push_back("server_beta1");
  if (a.server_beta2 != d.server_beta2) keys.push_back("server_beta2");
  if (a.server_epsilon != d.server_epsilon) keys.push_back("server_epsilon");
  if (keys.empty() || (server_lr_alone_ok && keys == std::vector<std::string>{"server_lr"})) return;
  config_fail(
      fmt::format("train_args.{} is set, but federated_optimizer {} has no server optimizer; use "
                  "federated_optimizer: FedOpt (or FedAvgM), or remove it",
                  fmt::join(keys, ", "), a.federated_optimizer));
}

void refuse_fedprox_mu(const Args& a) {
  if (a.fedprox_mu != 0) {
    config_fail(
        fmt::format("train_args.fedprox_mu = {} needs federated_optimizer: FedProx (it is {})",
                    a.fedprox_mu, a.federated_optimizer));
  }
}

void refuse_secure_aggregation(const Args& a) {
  if (a.enable_sa)
    config_fail("secure aggregation gives the server only the silos' sum, so federated_optimizer " +
                a.federated_optimizer + " cannot run with it; use FedAvg or FedProx");
}

namespace {

// A key that changes nothing for the chosen optimizer would be a silent no-op: refused. Each
// rule checks its own keys (registered by the layer that owns it: core/rule_checks.h); a rule
// without a check takes FedAvg's keys only.
void check_algorithm_keys(const Args& a) {
  auto fail = [](const std::string& msg) { config_fail(msg); };
  if (run_rule_check(a) == RuleCheck::kNone) {
    refuse_server_keys(a);
    refuse_fedprox_mu(a);
    refuse_secure_aggregation(a);
  }
  if (a.enable_sa) {
    if (a.enable_defense)
      fail(
          "defense_args.enable_defense needs every silo's model, which secure aggregation "
          "hides from the server; turn one of them off");
    if (a.enable_dp && a.dp_solution_type == "cdp")
      fail(
          "dp_args cdp clips each silo's update at the server, which secure aggregation hides; "
          "use dp_solution_type: ldp with secure aggregation");
    if (a.round_max_s > 0)
      fail(
          "comm_args.round_max_s is not supported with secure aggregation: a secure round's "
          "silos are fixed at its start and each phase already ends round_timeout_s after it "
          "began; set round_max_s: 0 or turn enable_sa off");
  }
  if (a.enable_defense) {
    if (a.defense_type.empty())
      fail("defense_args.enable_defense is true but defense_args.defense_type is not set");
  }
  run_config_checks(a);  // defense_args' own keys, by the defenses
  if (a.enable_attack) {
    if (a.attack_type.empty())
      fail("attack_args.enable_attack is true but attack_args.attack_type is not set");
    int64_t silos = static_cast<int64_t>(a.client_id_list.size());
    if (a.attack_type == "byzantine" &&
        (a.attack_byzantine_client_num < 1 || a.attack_byzantine_client_num > silos)) {
      fail(
          fmt::format("attack_args.byzantine_client_num = {}: a byzantine attack needs 1 to {} "
                      "attacking silos (the silos in client_id_list)",
                      a.attack_byzantine_client_num, silos));
    }
    if (a.attack_type == "label_flipping") {
      if (a.original_class_list.empty() ||
          a.original_class_list.size() != a.target_class_list.size())
        fail(
            "attack_args label_flipping needs original_class_list and target_class_list of the "
            "same, non-zero length");
      if (a.ratio_of_poisoned_client <= 0 && a.attack_byzantine_client_num < 1)
        fail(
            "attack_args label_flipping needs ratio_of_poisoned_client > 0 or "
            "byzantine_client_num >= 1 (which silos flip their labels)");
    }
  }
  if (a.enable_dp && a.enable_rdp_accountant && a.rdp_alpha != 0 && a.rdp_alpha <= 1)
    fail(
        fmt::format("dp_args.rdp_alpha = {}: a Renyi order must be > 1 (0 = search)", a.rdp_alpha));
}

}  // namespace

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
  if (a.min_clients_per_round > a.client_num_per_round) {
    fail(fmt::format(
        "train_args.min_clients_per_round ({}) exceeds train_args.client_num_per_round ({}): a "
        "round can never gather more models than it selects silos",
        a.min_clients_per_round, a.client_num_per_round));
  }
  if (a.node_rank_in_silo >= a.n_node_in_silo) {
    fail(fmt::format("client_silo_args.node_rank_in_silo ({}) must be < n_node_in_silo ({})",
                     a.node_rank_in_silo, a.n_node_in_silo));
  }
  if (a.rank < 0) fail(fmt::format("--rank {} must be >= 0", a.rank));
  if (a.enable_sa) {
    if (a.sa_method != "secagg") {
      fail("secure_aggregation_args.sa_method = " + a.sa_method +
           ": only secagg is implemented (LightSecAgg is not); use sa_method: secagg");
    }
    if (!a.message_signing) {
      fail(
          "secure_aggregation_args.enable_sa needs security_args.message_signing: true (the "
          "silos' keys travel in signed messages)");
    }
    if (a.client_num_per_round < 2 || a.client_num_per_round > 255) {
      fail(
          fmt::format("secure aggregation needs 2 to 255 silos per round "
                      "(train_args.client_num_per_round = {})",
                      a.client_num_per_round));
    }
  }
  if (a.object_store != "s3" && a.object_store.rfind("file://", 0) != 0) {
    fail("comm_args.object_store = " + a.object_store + ": must be s3 or file://<folder>");
  }
  if (!a.local_log_output_path.empty() && a.local_log_output_path != a.log_file_dir) {
    fail("tracking_args.local_log_output_path = " + a.local_log_output_path +
         " differs from tracking_args.log_file_dir = " + a.log_file_dir +
         "; fedsilo writes every log and output under log_file_dir, so set that one instead");
  }
  check_algorithm_keys(a);
}

void check_silo_rank(const Args& a) {
  if (std::find(a.client_id_list.begin(), a.client_id_list.end(), a.rank) ==
      a.client_id_list.end()) {
    throw ConfigError(fmt::format("--rank {} is not in train_args.client_id_list [{}]", a.rank,
                                  fmt::join(a.client_id_list, ", ")));
  }
}

}  // namespace fedsilo
