// The built-in aggregators, trainers and client optimizers. Adding one is one line here (or a
// registry::...().add() call in the user's program).
#include <torch/torch.h>

#include "core/config_choices.h"
#include "fedsilo/aggregator.h"
#include "fedsilo/trainer.h"
#include "ml/configured_aggregator.h"
#include "ml/scaffold_aggregator.h"

namespace fedsilo::registry {

Registry<AggregatorFactory>& aggregators() {
  static Registry<AggregatorFactory>* r = [] {
    auto* reg = new Registry<AggregatorFactory>("train_args.federated_optimizer");
    for (const char* name : {"FedAvg", "FedProx", "FedOpt", "FedAvgM", "FedNova"})
      reg->add(name, make_configured_aggregator);
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
    RuleNeeds prox, nova, scaffold;
    prox.proximal_term = true;
    nova.local_steps = true;
    scaffold.local_steps = scaffold.control_variates = true;
    reg->add("FedProx", prox);
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
}  // namespace
}  // namespace fedsilo
