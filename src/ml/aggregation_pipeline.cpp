// compose_aggregator (fedsilo/aggregation_rule.h): a rule with the stages that defense_args,
// dp_args and a server step put around it, as one Aggregator.
#include <algorithm>

#include "fedsilo/aggregation_rule.h"
#include "fedsilo/error.h"
#include "ml/central_dp.h"
#include "ml/defenses.h"

namespace fedsilo {
namespace {

class WeightedMean : public CombineRule {
 public:
  void reset(const FlatModel& model) override { sums_.assign(model.size(), 0.0); }
  void add(std::vector<double> x, double weight, const UpdateInfo&) override {
    for (size_t i = 0; i < x.size(); ++i) sums_[i] += weight * x[i];
  }
  void merge(const CombineRule& other) override {
    const auto* o = dynamic_cast<const WeightedMean*>(&other);
    if (!o || o->sums_.size() != sums_.size())
      throw Error("aggregator: can only merge one of the same rule");
    for (size_t i = 0; i < sums_.size(); ++i) sums_[i] += o->sums_[i];
  }
  std::vector<double> combine(double total, RoundFigures&) override {
    std::vector<double> out(sums_.size());
    for (size_t i = 0; i < sums_.size(); ++i) out[i] = sums_[i] / total;
    return out;
  }

 private:
  std::vector<double> sums_;
};

class PipelineAggregator : public Aggregator {
 public:
  PipelineAggregator(std::unique_ptr<CombineRule> rule,
                     std::vector<std::unique_ptr<AggregationStage>> stages)
      : rule_(std::move(rule)), stages_(std::move(stages)) {}

  void reset(const StateDict& global) override {
    flat_ = FlatModel(global);
    rule_->reset(flat_);
    for (auto& s : stages_) s->reset(flat_);
    total_ = largest_ = 0;
    clipped_ = 0;
    figures_.clear();
  }
  void accumulate(const StateDict& model, double weight) override {
    accumulate_update(model, weight, UpdateInfo{});
  }
  void accumulate_update(const StateDict& model, double weight, const UpdateInfo& info) override {
    if (!(weight >= 0)) throw Error("aggregator: weight must be >= 0");
    auto x = flat_.flatten(model);
    for (auto& s : stages_) clipped_ += s->on_update(x, flat_) ? 1 : 0;
    rule_->add(std::move(x), weight, info);
    total_ += weight;
    largest_ = std::max(largest_, weight);
  }
  void merge(const Aggregator& other) override {
    const auto* o = dynamic_cast<const PipelineAggregator*>(&other);
    if (!o) throw Error("aggregator: can only merge one of the same rule");
    check_same_layout(flat_.layout(), o->flat_.layout(), "aggregator merge");
    rule_->merge(*o->rule_);
    total_ += o->total_;
    clipped_ += o->clipped_;
    largest_ = std::max(largest_, o->largest_);
  }
  double total_weight() const override { return total_; }
  StateDict report() override {
    if (!(total_ > 0))
      throw Error("aggregator: no weight accumulated (every silo reported 0 samples)");
    auto agg = rule_->combine(total_, figures_);
    if (clipped_) figures_["updates_clipped"] = static_cast<double>(clipped_);
    for (auto& s : stages_) s->on_result(agg, flat_, {total_, largest_}, figures_);
    return flat_.unflatten(agg);
  }
  StateDict saved_state() const override {
    StateDict out;
    for (const auto& s : stages_) s->save_state(out);
    return out;
  }
  void restore_state(const StateDict& state) override {
    for (auto& s : stages_) s->restore_state(state);
  }
  std::map<std::string, double> round_metrics() const override { return figures_; }

 private:
  std::unique_ptr<CombineRule> rule_;
  std::vector<std::unique_ptr<AggregationStage>> stages_;
  FlatModel flat_;
  double total_ = 0, largest_ = 0;
  int64_t clipped_ = 0;
  RoundFigures figures_;
};

}  // namespace

std::unique_ptr<CombineRule> weighted_mean_rule() { return std::make_unique<WeightedMean>(); }

std::unique_ptr<Aggregator> compose_aggregator(const Args& a, std::unique_ptr<CombineRule> rule,
                                               std::unique_ptr<AggregationStage> server_step,
                                               std::optional<uint64_t> noise_seed) {
  if (!rule && !server_step && !a.enable_defense && !a.enable_dp)
    return std::make_unique<FedAvgAggregator>();
  if (!rule) rule = weighted_mean_rule();
  // Per update in this order: the defense's clipping, then central DP's; on the result: DP's
  // noise, then the server's step.
  std::vector<std::unique_ptr<AggregationStage>> stages;
  apply_defense(a, rule, stages);
  if (a.enable_dp) stages.push_back(make_dp_stage(a, noise_seed));
  if (server_step) stages.push_back(std::move(server_step));
  return std::make_unique<PipelineAggregator>(std::move(rule), std::move(stages));
}

}  // namespace fedsilo
