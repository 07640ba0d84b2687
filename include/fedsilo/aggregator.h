#pragma once
// Server-side aggregation shaped like Google's federated-compute aggregators: accumulate one
// silo's model at a time (memory stays O(model), not O(silos x model)), merge partial
// aggregates, report the result. Replace FedAvgAggregator to change the rule.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fedsilo/args.h"
#include "fedsilo/registry.h"
#include "fedsilo/state_dict.h"

namespace fedsilo {

// What the server knows of an update besides its weight.
struct UpdateInfo {
  int64_t silo = 0;
  int64_t local_steps = 0;       // optimizer steps the silo took this round (FedNova's tau)
  int64_t data_silo_index = -1;  // the data silo it trained on this round
};

class Aggregator {
 public:
  virtual ~Aggregator() = default;
  // Starts a new round. `global` is the current global model (the one the silos train from
  // this round): its layout fixes names, dtypes and shapes, and its values are there for rules
  // that need them (server optimizers, clipping around the global model). The tensors stay
  // valid until report() has been called.
  virtual void reset(const StateDict& global) = 0;
  virtual void accumulate(const StateDict& model, double weight) = 0;
  // The server calls this one; rules that need more than the weight (FedNova's local steps)
  // override it.
  virtual void accumulate_update(const StateDict& model, double weight, const UpdateInfo& info) {
    (void)info;
    accumulate(model, weight);
  }
  virtual void merge(const Aggregator& other) = 0;
  virtual double total_weight() const = 0;
  // Ends the round: the new global model, in the layout given to reset(). A rule with state
  // (a server optimizer's moments, a privacy accountant) advances it here, once per round.
  // Precondition: total_weight() > 0.
  virtual StateDict report() = 0;
  // What the rule carries from one round to the next (a server optimizer's moments). The
  // server saves it in its checkpoint after every round and restores it on restart, so a
  // resumed run ends bit for bit like an uninterrupted one. Stateless rules keep the defaults.
  virtual StateDict saved_state() const { return {}; }
  virtual void restore_state(const StateDict& /*state*/) {}
  // Figures of the round just reported (models a defense kept, epsilon spent so far, ...), put
  // in the round's metrics.jsonl line under "aggregation".
  virtual std::map<std::string, double> round_metrics() const { return {}; }
  // What the silo that trains `data_silo_index` this round gets besides the global model, in
  // the global model's layout (SCAFFOLD's correction c - c_i, added to every step's gradient by
  // the trainer: TrainContext::correction). Called after reset(); empty for rules without one.
  virtual StateDict correction_for(int64_t /*data_silo_index*/) const { return {}; }
};

// Weighted mean (FedAvg, weights = sample counts). Sums in float64: a float32 value times an
// integer weight is exact in float64, and the sum of a round's products stays exact while the
// silos' values for one element lie within a few binary orders of magnitude of each other
// (always the case for models that start a round from the same global model), so the result
// does not depend on the order in which models arrive. Buffers (e.g. BatchNorm statistics) are
// averaged too; integer tensors are rounded back to their type.
class FedAvgAggregator : public Aggregator {
 public:
  void reset(const StateDict& global) override;
  void accumulate(const StateDict& model, double weight) override;
  void merge(const Aggregator& other) override;
  double total_weight() const override { return total_; }
  StateDict report() override;

 private:
  StateDict layout_;
  std::vector<std::vector<double>> sums_;
  double total_ = 0;
};

// train_args.federated_optimizer, server side: a fresh aggregator for the run.
using AggregatorFactory = std::function<std::unique_ptr<Aggregator>(const Args& args)>;

// What a federated_optimizer asks of the protocol and the silos, declared with the rule rather
// than found by comparing its name: the server and the silos ask these questions.
struct RuleNeeds {
  bool control_variates = false;  // silos get a correction with each request (SCAFFOLD)
  bool local_steps = false;       // each update must say how many local steps it took
};

namespace registry {
// Built in: "FedAvg", "FedProx" (FedAvg at the server), "FedOpt" and "FedAvgM" (a server
// optimizer, train_args.server_*), "FedNova", "SCAFFOLD"; each but SCAFFOLD adds defense_args
// and dp_args rules when enabled.
Registry<AggregatorFactory>& aggregators();
// Each rule's needs; a rule registered without any needs nothing beyond FedAvg's.
Registry<RuleNeeds>& rule_needs();
RuleNeeds needs_of(const std::string& federated_optimizer);
}  // namespace registry

}  // namespace fedsilo
