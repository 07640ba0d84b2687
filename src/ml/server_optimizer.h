#pragma once
// FedOpt's server step (Reddi et al., "Adaptive Federated Optimization", ICLR 2021,
// Algorithm 2): the round's aggregate x_avg and the global model x give the pseudo-gradient
// d = x - x_avg, and the server steps on it with sgd (FedAvgM when momentum > 0), adagrad, adam
// or yogi. State (momentum, moments) is kept per coordinate in float64 and saved in the server's
// checkpoint.
#include <cstdint>
#include <string>
#include <vector>

#include "fedsilo/aggregation_rule.h"
#include "fedsilo/args.h"
#include "fedsilo/state_dict.h"

namespace fedsilo {

// The step after the rule (an AggregationStage): FedOpt's and FedAvgM's.
class ServerOptimizer : public AggregationStage {
 public:
  explicit ServerOptimizer(const Args& args);

  void on_result(std::vector<double>& aggregate, const FlatModel& model, const Weights&,
                 RoundFigures&) override {
    step(model.global(), aggregate, model.floating_mask());
  }
  void save_state(StateDict& into) const override {
    for (auto& entry : saved_state()) into.push_back(std::move(entry));
  }

  // sgd with lr 1 and no momentum: the new global model is the aggregate itself (FedAvg).
  bool is_identity() const;
  // global, aggregate: n coordinates each; `aggregate` becomes the new global model. Only the
  // coordinates with mask[i] (floating-point tensors) are stepped; the others keep the
  // aggregate.
  void step(const std::vector<double>& global, std::vector<double>& aggregate,
            const std::vector<bool>& mask);

  StateDict saved_state() const;
  void restore_state(const StateDict& state) override;

 private:
  std::string kind_;
  double lr_, momentum_, beta1_, beta2_, tau_;
  std::vector<double> m_, v_;  // sgd: m_ is the momentum buffer
  int64_t steps_ = 0;
};

}  // namespace fedsilo
