#include "ml/fednova.h"

#include <cmath>

#include "fedsilo/error.h"

namespace fedsilo {
namespace {

class FedNovaRule : public CombineRule {
 public:
  explicit FedNovaRule(double momentum) : momentum_(momentum) {}

  void reset(const FlatModel& model) override {
    model_ = &model;
    sums_.assign(model.size(), 0.0);
    tau_ = 0;
  }
  void add(std::vector<double> x, double weight, const UpdateInfo& info) override {
    if (info.local_steps < 1) throw ProtocolError("FedNova: the update reports no local steps");
    // Normalised update (x_k - x) / a_k; integer buffers are averaged like FedAvg.
    double a = fednova_a(info.local_steps, momentum_);
    const auto& g = model_->global();
    for (size_t i = 0; i < x.size(); ++i)
      sums_[i] += model_->floating(i) ? weight / a * (x[i] - g[i]) : weight * x[i];
    tau_ += weight * a;
  }
  void merge(const CombineRule& other) override {
    const auto* o = dynamic_cast<const FedNovaRule*>(&other);
    if (!o || o->sums_.size() != sums_.size())
      throw Error("aggregator: can only merge one of the same rule");
    for (size_t i = 0; i < sums_.size(); ++i) sums_[i] += o->sums_[i];
    tau_ += o->tau_;
  }
  std::vector<double> combine(double total, RoundFigures& figures) override {
    // x - tau_eff * sum p_k d_k, with d_k = (x - x_k) / a_k and tau_eff = sum p_k a_k.
    double tau_eff = tau_ / total;
    const auto& g = model_->global();
    std::vector<double> out(sums_.size());
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = model_->floating(i) ? g[i] + tau_eff * (sums_[i] / total) : sums_[i] / total;
    figures["fednova_tau_eff"] = tau_eff;
    return out;
  }

 private:
  double momentum_;
  const FlatModel* model_ = nullptr;  // the aggregator's, valid from reset() to the report
  std::vector<double> sums_;
  double tau_ = 0;  // sum of weight * a_k
};

}  // namespace

double fednova_a(int64_t tau, double momentum) {
  // Wang et al. 2020, section 4: a = tau for plain SGD; with momentum rho,
  // a = (tau - rho (1 - rho^tau) / (1 - rho)) / (1 - rho).
  double t = static_cast<double>(tau);
  if (momentum <= 0) return t;
  return (t - momentum * (1 - std::pow(momentum, t)) / (1 - momentum)) / (1 - momentum);
}

std::unique_ptr<CombineRule> fednova_rule(double momentum) {
  return std::make_unique<FedNovaRule>(momentum);
}

}  // namespace fedsilo
