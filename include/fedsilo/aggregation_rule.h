#pragma once
// Aggregation rules that work coordinate by coordinate, and the stages composed around them
// (FLARE's filters, at the server): per update before the rule (defense_args'
// norm_diff_clipping, central DP's clipping), on the combined result after it (central DP's
// noise and accountant, FedOpt's server step). A rule is one CombineRule; defense_args and
// dp_args wrap whichever rule is chosen (compose_aggregator), so a new rule gets them without
// knowing they exist. docs/architecture.md, "Adding an aggregation rule", shows a whole one.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fedsilo/aggregator.h"
#include "fedsilo/args.h"
#include "fedsilo/state_dict.h"

namespace fedsilo {

// A round's global model as one float64 vector, and how to turn updates into the same.
class FlatModel {
 public:
  FlatModel() = default;
  explicit FlatModel(const StateDict& global);

  size_t size() const { return global_.size(); }
  const std::vector<double>& global() const { return global_; }
  // Whether coordinate i belongs to a floating-point tensor (integer buffers are averaged, never
  // stepped, clipped or noised).
  bool floating(size_t i) const { return floating_[i]; }
  const std::vector<bool>& floating_mask() const { return floating_; }
  // `model` (the global model's layout, checked) as one vector.
  std::vector<double> flatten(const StateDict& model) const;
  // Back to tensors of the global model's names and dtypes, integers rounded.
  StateDict unflatten(const std::vector<double>& x) const;
  // `x` rounded coordinate by coordinate as its tensor's dtype holds it.
  void round_to_dtypes(std::vector<double>& x) const;
  const StateDict& layout() const { return layout_; }

 private:
  StateDict layout_;
  std::vector<size_t> offsets_;  // tensor k holds [offsets_[k], offsets_[k + 1])
  std::vector<bool> floating_;
  std::vector<double> global_;
};

using RoundFigures = std::map<std::string, double>;  // into metrics.jsonl "aggregation"

// How a round's updates become one: the rule itself.
class CombineRule {
 public:
  virtual ~CombineRule() = default;
  virtual void reset(const FlatModel& model) = 0;
  // One update (after the stages' clipping). Throws ProtocolError when the update lacks what
  // the rule needs (FedNova's local steps).
  virtual void add(std::vector<double> x, double weight, const UpdateInfo& info) = 0;
  // Folds in another instance's updates of the same round (same rule; Error otherwise).
  virtual void merge(const CombineRule& other) = 0;
  // The combined model; `total_weight` > 0 is the sum of the weights added.
  virtual std::vector<double> combine(double total_weight, RoundFigures& figures) = 0;
};

// A step around the rule.
class AggregationStage {
 public:
  virtual ~AggregationStage() = default;
  virtual void reset(const FlatModel&) {}
  // Before the rule, on each update; true when it changed it (counted as updates_clipped).
  virtual bool on_update(std::vector<double>&, const FlatModel&) { return false; }
  struct Weights {
    double total = 0, largest = 0;  // of the round's updates
  };
  // After the rule, on the combined model, in the order the stages were given.
  virtual void on_result(std::vector<double>&, const FlatModel&, const Weights&, RoundFigures&) {}
  // What it carries between rounds, under names of its own (the server checkpoints it).
  virtual void save_state(StateDict&) const {}
  virtual void restore_state(const StateDict&) {}
};

// The weighted mean (FedAvg's rule) in float64.
std::unique_ptr<CombineRule> weighted_mean_rule();

// The aggregator for `rule` (null: the weighted mean) with what defense_args and dp_args ask
// for around it and `server_step` after it. Plain FedAvg (no rule, no stage) is a
// FedAvgAggregator. `noise_seed` fixes central DP's noise, for tests; runs draw it from the
// OS's CSPRNG. Throws ConfigError for a DP budget no model survives.
std::unique_ptr<Aggregator> compose_aggregator(
    const Args& args, std::unique_ptr<CombineRule> rule = nullptr,
    std::unique_ptr<AggregationStage> server_step = nullptr,
    std::optional<uint64_t> noise_seed = std::nullopt);

}  // namespace fedsilo
