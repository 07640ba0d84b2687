#pragma once
// The aggregator a config describes beyond plain FedAvg (docs/algorithms.md): per-update
// clipping (defense norm_diff_clipping, central DP), a combining rule (weighted mean, FedNova's
// normalised mean, Krum,
// Multi-Krum, coordinate-wise median or trimmed mean, geometric median), central-DP noise, an
// RDP accountant, and FedOpt's server step, in that order.
#include <memory>
#include <optional>

#include "fedsilo/aggregator.h"
#include "ml/dp_mechanism.h"
#include "ml/server_optimizer.h"

namespace fedsilo {

class ConfiguredAggregator : public Aggregator {
 public:
  // `noise_seed` fixes the DP noise, for tests; runs draw it from the OS's CSPRNG.
  explicit ConfiguredAggregator(const Args& args,
                                std::optional<uint64_t> noise_seed = std::nullopt);
  void reset(const StateDict& global) override;
  void accumulate(const StateDict& model, double weight) override;
  void accumulate_update(const StateDict& model, double weight, const UpdateInfo& info) override;
  void merge(const Aggregator& other) override;
  double total_weight() const override { return total_; }
  StateDict report() override;
  StateDict saved_state() const override;
  void restore_state(const StateDict& state) override;
  std::map<std::string, double> round_metrics() const override { return metrics_; }

 private:
  enum class Rule { kMean, kNova, kKrum, kMedian, kTrimmedMean, kGeometricMedian };
  struct Entry {
    double weight;
    std::vector<float> values;
  };
  std::vector<double> flatten(const StateDict& model) const;
  void clip(std::vector<double>& x, double bound, dp::Mechanism norm);
  std::vector<double> combine();

  Args args_;
  Rule rule_ = Rule::kMean;
  double norm_bound_ = 0;  // defense norm_diff_clipping, 0 = off
  std::optional<dp::Calibration> dp_;
  bool central_dp_ = false;
  dp::NoiseSource noise_;
  ServerOptimizer optimizer_;

  StateDict layout_;
  std::vector<size_t> offsets_;
  std::vector<bool> floating_;  // per coordinate
  std::vector<double> global_;
  std::vector<double> sums_;    // kMean
  std::vector<Entry> entries_;  // every other rule
  double total_ = 0;
  double max_weight_ = 0;
  double nova_tau_ = 0;  // FedNova: sum of weight * a_k
  int64_t clipped_ = 0;
  int64_t releases_ = 0;  // DP releases so far, for the accountant
  std::map<std::string, double> metrics_;
};

// FedNova's a_k for `tau` local steps of SGD with `momentum` (Wang et al. 2020).
double fednova_a(int64_t tau, double momentum);

// The aggregator for `args`: FedAvgAggregator when nothing but FedAvg is asked for, else a
// ConfiguredAggregator.
std::unique_ptr<Aggregator> make_configured_aggregator(const Args& args);

}  // namespace fedsilo
