// The built-in aggregators, trainers and client optimizers. Adding one is one line here (or a
// registry::...().add() call in the user's program).
#include <fmt/format.h>
#include <torch/torch.h>

#include "core/args_checks.h"
#include "core/config_choices.h"
#include "core/rule_checks.h"
#include "fedsilo/aggregation_rule.h"
#include "fedsilo/aggregator.h"
#include "fedsilo/trainer.h"
#include "ml/fednova.h"
#include "ml/scaffold_aggregator.h"
#include "ml/server_optimizer.h"

namespace fedsilo::registry {

Registry<AggregatorFactory>& aggregators() {
  static Registry<AggregatorFactory>* r = [] {
    auto* reg = new Registry<AggregatorFactory>("train_args.federated_optimizer");
    // Each but SCAFFOLD is a rule that defense_args and dp_args wrap (compose_aggregator).
    AggregatorFactory mean = [](const Args& a) { return compose_aggregator(a); };
    AggregatorFactory server_step = [](const Args& a) {
      return compose_aggregator(a, nullptr, std::make_unique<ServerOptimizer>(a));
    };
    reg->add("FedAvg", mean);
    reg->add("FedProx", mean);  // the proximal term is the silos'
    reg->add("FedOpt", server_step);
    reg->add("FedAvgM", server_step);
    reg->add("FedNova",
             [](const Args& a) { return compose_aggregator(a, fednova_rule(a.momentum)); });
    reg->add("SCAFFOLD", [](const Args& a) -> std::unique_ptr<Aggregator> {
      return std::make_unique<ScaffoldAggregator>(a);
    });
    return reg;
  }();
  return *r;
}

Registry<RuleNeeds>& rule_needs() {
  static Registry<RuleNeeds>* r = [] {
    auto* reg = new Registry<RuleNeeds>("train_args.federated_optimizer");
    RuleNeeds nova, scaffold;
    nova.local_steps = true;
    scaffold.local_steps = scaffold.control_variates = true;
    reg->add("FedNova", nova);
    reg->add("SCAFFOLD", scaffold);
    return reg;
  }();
  return *r;
}

RuleNeeds needs_of(const std::string& federated_optimizer) {
  auto& reg = rule_needs();
  return reg.contains(federated_optimizer) ? reg.get(federated_optimizer) : RuleNeeds{};
}

Registry<TrainerFactory>& trainers() {
  static Registry<TrainerFactory>* r = [] {
    auto* reg = new Registry<TrainerFactory>("train_args.federated_optimizer");
    reg->add("FedAvg", [](const Args& a, GradientSync* sync) {
      return std::make_unique<ClassificationTrainer>(a, sync);
    });
    reg->add("FedProx", [](const Args& a, GradientSync* sync) {
      std::vector<std::unique_ptr<StepHook>> hooks;
      hooks.push_back(proximal_term_hook(a.fedprox_mu));
      return std::make_unique<ClassificationTrainer>(a, sync, std::move(hooks));
    });
    reg->add("SCAFFOLD", [](const Args& a, GradientSync* sync) {
      std::vector<std::unique_ptr<StepHook>> hooks;
      hooks.push_back(control_variate_hook());
      return std::make_unique<ClassificationTrainer>(a, sync, std::move(hooks));
    });
    return reg;
  }();
  return *r;
}

Registry<OptimizerFactory>& client_optimizers() {
  static Registry<OptimizerFactory>* r = [] {
    auto* reg = new Registry<OptimizerFactory>("train_args.client_optimizer");
    reg->add("sgd",
             [](const Args& a,
                std::vector<torch::Tensor> params) -> std::unique_ptr<torch::optim::Optimizer> {
               return std::make_unique<torch::optim::SGD>(params,
                                                          torch::optim::SGDOptions(a.learning_rate)
                                                              .momentum(a.momentum)
                                                              .weight_decay(a.weight_decay));
             });
    // FedML uses amsgrad=True for its Adam client optimizer.
    reg->add("adam",
             [](const Args& a,
                std::vector<torch::Tensor> params) -> std::unique_ptr<torch::optim::Optimizer> {
               return std::make_unique<torch::optim::Adam>(
                   params, torch::optim::AdamOptions(a.learning_rate)
                               .weight_decay(a.weight_decay)
                               .amsgrad(true));
             });
    return reg;
  }();
  return *r;
}

TrainerFactory trainer_for(const std::string& federated_optimizer) {
  auto& reg = trainers();
  return reg.get(reg.contains(federated_optimizer) ? federated_optimizer : "FedAvg");
}

}  // namespace fedsilo::registry

namespace fedsilo {
namespace {
// The config keys are checked against these registries when a config is loaded.
[[maybe_unused]] const bool kChoicesRegistered = [] {
  register_config_choices("train_args.federated_optimizer",
                          [] { return registry::aggregators().names(); });
  register_config_choices("train_args.client_optimizer",
                          [] { return registry::client_optimizers().names(); });
  return true;
}();

void check_fedopt(const Args& a) {
  refuse_fedprox_mu(a);
  refuse_secure_aggregation(a);
}

void check_fedavgm(const Args& a) {
  if (a.server_optimizer != "sgd") {
    config_fail("federated_optimizer FedAvgM is sgd with server momentum; server_optimizer " +
                a.server_optimizer + " needs federated_optimizer: FedOpt");
  }
  check_fedopt(a);
}

void check_fednova(const Args& a) {
  refuse_server_keys(a);
  if (a.client_optimizer != "sgd")
    config_fail("federated_optimizer FedNova normalises by local SGD steps; client_optimizer " +
                a.client_optimizer + " has no such normalisation (use sgd)");
  if (a.enable_defense)
    config_fail(
        "federated_optimizer FedNova replaces the weighted mean, and so does defense_args; "
        "choose one");
  refuse_fedprox_mu(a);
  refuse_secure_aggregation(a);
}

void check_scaffold(const Args& a) {
  // SCAFFOLD's server step x + server_lr (mean - x) takes server_lr (eta_g) and nothing else.
  refuse_server_keys(a, /*server_lr_alone_ok=*/true);
  // Option II estimates the mean gradient as (x - y_i) / (K lr): true of plain SGD steps.
  if (a.client_optimizer != "sgd" || a.momentum != 0)
    config_fail(
        fmt::format("federated_optimizer SCAFFOLD's control variates assume plain SGD steps "
                    "(client_optimizer sgd, momentum 0); it is client_optimizer {}, momentum {}",
                    a.client_optimizer, a.momentum));
  if (a.enable_defense || (a.enable_dp && a.dp_solution_type == "cdp"))
    config_fail(
        "federated_optimizer SCAFFOLD with defense_args or central DP (dp_args cdp) is not "
        "supported: the server's control variates would be built from updates the rule "
        "discards or clips; use local DP (ldp) or another optimizer");
  refuse_fedprox_mu(a);
  refuse_secure_aggregation(a);
}

// Which keys each built-in rule takes, and what it cannot run with (core/rule_checks.h).
[[maybe_unused]] const bool kRuleChecksRegistered = [] {
  register_rule_check("FedAvg", [](const Args& a) {
    refuse_server_keys(a);
    refuse_fedprox_mu(a);
  });
  register_rule_check("FedProx", [](const Args& a) { refuse_server_keys(a); });
  register_rule_check("FedOpt", check_fedopt);
  register_rule_check("FedAvgM", check_fedavgm);
  register_rule_check("FedNova", check_fednova);
  register_rule_check("SCAFFOLD", check_scaffold);
  return true;
}();
}  // namespace
}  // namespace fedsilo
