#include "ml/configured_aggregator.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/log.h"
#include "fedsilo/error.h"
#include "ml/robust_rules.h"

namespace fedsilo {
namespace {

// A value as the model's dtype holds it: clipped updates are rounded like a silo's own
// float32 model, which keeps float64 sums of weight * value exact and order-independent.
double as_dtype(double v, torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return static_cast<float>(v);
    case torch::kFloat64:
      return v;
    default:
      return torch::tensor(v, torch::kFloat64).to(t).to(torch::kFloat64).item<double>();
  }
}

}  // namespace

ConfiguredAggregator::ConfiguredAggregator(const Args& a, std::optional<uint64_t> noise_seed)
    : args_(a), noise_(noise_seed), optimizer_(a) {
  if (a.enable_defense) {
    const auto& t = a.defense_type;
    if (t == "krum" || t == "multikrum") rule_ = Rule::kKrum;
    if (t == "coordinate_wise_median" || t == "median") rule_ = Rule::kMedian;
    if (t == "coordinate_wise_trimmed_mean" || t == "trimmed_mean") rule_ = Rule::kTrimmedMean;
    if (t == "geometric_median" || t == "rfa") rule_ = Rule::kGeometricMedian;
    if (t == "norm_diff_clipping") norm_bound_ = a.norm_bound;
  }
  if (a.federated_optimizer == "FedNova") rule_ = Rule::kNova;
  if (a.enable_dp) {
    dp_ = dp::calibrate(a);
    central_dp_ = a.dp_solution_type == "cdp";
  }
}

void ConfiguredAggregator::reset(const StateDict& global) {
  layout_.clear();
  offsets_.assign(1, 0);
  for (const auto& [name, t] : global) {
    layout_.emplace_back(name, torch::empty(t.sizes(), t.options().device(torch::kCPU)));
    offsets_.push_back(offsets_.back() + static_cast<size_t>(t.numel()));
  }
  floating_.assign(offsets_.back(), false);
  for (size_t k = 0; k < layout_.size(); ++k) {
    bool f = c10::isFloatingType(layout_[k].second.scalar_type());
    std::fill(floating_.begin() + offsets_[k], floating_.begin() + offsets_[k + 1], f);
  }
  global_ = flatten(global);
  bool folds = rule_ == Rule::kMean || rule_ == Rule::kNova;
  sums_.assign(folds ? global_.size() : 0, 0.0);
  nova_tau_ = 0;
  entries_.clear();
  total_ = 0;
  max_weight_ = 0;
  clipped_ = 0;
  metrics_.clear();
}

std::vector<double> ConfiguredAggregator::flatten(const StateDict& model) const {
  std::vector<double> x(offsets_.back());
  for (size_t k = 0; k < model.size(); ++k) {
    auto t = model[k].second.detach().to(torch::kCPU).to(torch::kFloat64).contiguous();
    std::copy(t.data_ptr<double>(), t.data_ptr<double>() + t.numel(), x.begin() + offsets_[k]);
  }
  return x;
}

void ConfiguredAggregator::clip(std::vector<double>& x, double bound, dp::Mechanism norm) {
  std::vector<double> delta(x.size(), 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    if (floating_[i]) delta[i] = x[i] - global_[i];
  }
  if (dp::clip_update(delta.data(), delta.size(), bound, norm) <= bound) return;
  ++clipped_;
  for (size_t k = 0; k < layout_.size(); ++k) {
    auto type = layout_[k].second.scalar_type();
    for (size_t i = offsets_[k]; i < offsets_[k + 1]; ++i) {
      if (floating_[i]) x[i] = as_dtype(global_[i] + delta[i], type);
    }
  }
}

void ConfiguredAggregator::accumulate(const StateDict& model, double weight) {
  if (rule_ == Rule::kNova)
    throw Error("FedNova needs each silo's local step count (accumulate_update)");
  accumulate_update(model, weight, UpdateInfo{});
}

double fednova_a(int64_t tau, double momentum) {
  // Wang et al. 2020, section 4: a = tau for plain SGD; with momentum rho,
  // a = (tau - rho (1 - rho^tau) / (1 - rho)) / (1 - rho).
  double t = static_cast<double>(tau);
  if (momentum <= 0) return t;
  return (t - momentum * (1 - std::pow(momentum, t)) / (1 - momentum)) / (1 - momentum);
}

void ConfiguredAggregator::accumulate_update(const StateDict& model, double weight,
                                             const UpdateInfo& info) {
  if (!(weight >= 0)) throw Error("aggregator: weight must be >= 0");
  if (rule_ == Rule::kNova && info.local_steps < 1)
    throw ProtocolError("FedNova: the update reports no local steps");
  check_same_layout(layout_, model, "aggregator input");
  auto x = flatten(model);
  if (norm_bound_ > 0) clip(x, norm_bound_, dp::Mechanism::kGaussian);
  if (dp_ && central_dp_) clip(x, dp_->clip, dp_->mechanism);
  if (rule_ == Rule::kMean) {
    for (size_t i = 0; i < x.size(); ++i) sums_[i] += weight * x[i];
  } else if (rule_ == Rule::kNova) {
    // Normalised update (x_k - x) / a_k; integer buffers are averaged like FedAvg.
    double a = fednova_a(info.local_steps, args_.momentum);
    for (size_t i = 0; i < x.size(); ++i)
      sums_[i] += floating_[i] ? weight / a * (x[i] - global_[i]) : weight * x[i];
    nova_tau_ += weight * a;
  } else {
    // float32 halves what a rule that needs every model holds (docs/algorithms.md, "Memory").
    entries_.push_back({weight, std::vector<float>(x.begin(), x.end())});
  }
  total_ += weight;
  max_weight_ = std::max(max_weight_, weight);
}

void ConfiguredAggregator::merge(const Aggregator& other) {
  const auto* o = dynamic_cast<const ConfiguredAggregator*>(&other);
  if (!o || o->rule_ != rule_) throw Error("aggregator: can only merge one of the same rule");
  check_same_layout(layout_, o->layout_, "aggregator merge");
  for (size_t i = 0; i < sums_.size(); ++i) sums_[i] += o->sums_[i];
  entries_.insert(entries_.end(), o->entries_.begin(), o->entries_.end());
  total_ += o->total_;
  nova_tau_ += o->nova_tau_;
  clipped_ += o->clipped_;
  max_weight_ = std::max(max_weight_, o->max_weight_);
}

std::vector<double> ConfiguredAggregator::combine() {
  size_t n = global_.size();
  std::vector<double> out(n);
  if (rule_ == Rule::kMean) {
    for (size_t i = 0; i < n; ++i) out[i] = sums_[i] / total_;
    return out;
  }
  if (rule_ == Rule::kNova) {
    // x - tau_eff * sum p_k d_k, with d_k = (x - x_k) / a_k and tau_eff = sum p_k a_k.
    double tau_eff = nova_tau_ / total_;
    for (size_t i = 0; i < n; ++i)
      out[i] = floating_[i] ? global_[i] + tau_eff * (sums_[i] / total_) : sums_[i] / total_;
    metrics_["fednova_tau_eff"] = tau_eff;
    return out;
  }
  // A canonical order: the result is a function of the set of models, not of arrival order.
  std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.weight != b.weight) return a.weight < b.weight;
    return a.values < b.values;
  });
  std::vector<robust::Point> points;
  for (const auto& e : entries_) points.push_back({e.values.data(), e.weight});
  switch (rule_) {
    case Rule::kKrum: {
      auto chosen = robust::krum_select(points, n, args_.byzantine_client_num,
                                        args_.defense_type == "multikrum" ? args_.krum_param_m : 1);
      std::vector<robust::Point> kept;
      for (size_t i : chosen) kept.push_back(points[i]);
      robust::weighted_mean(kept, n, out.data());
      metrics_["defense_models_kept"] = static_cast<double>(kept.size());
      break;
    }
    case Rule::kMedian:
      robust::coordinate_median(points, n, out.data());
      break;
    case Rule::kTrimmedMean:
      robust::coordinate_trimmed_mean(points, n, args_.trimmed_mean_beta, out.data());
      break;
    case Rule::kGeometricMedian:
      metrics_["geometric_median_iterations"] = static_cast<double>(
          robust::geometric_median(points, n, args_.geometric_median_iterations, out.data()));
      break;
    case Rule::kMean:
    case Rule::kNova:
      break;
  }
  return out;
}

StateDict ConfiguredAggregator::report() {
  if (!(total_ > 0))
    throw Error("aggregator: no weight accumulated (every silo reported 0 samples)");
  auto agg = combine();
  if (clipped_) metrics_["updates_clipped"] = static_cast<double>(clipped_);
  if (dp_) {
    if (central_dp_) {
      // Replacing one silo's clipped update moves the weighted mean by at most
      // 2 * clip * weight / total: the noise covers that only up to the configured sensitivity.
      double moved = 2 * dp_->clip * max_weight_ / total_;
      if (moved > dp_->sensitivity * (1 + 1e-12)) {
        SPDLOG_WARN(
            "central DP: one silo's update can move this round's aggregate by {:.4g} (it holds "
            "{:.0f} of {:.0f} samples), more than dp_args.sensitivity = {:.4g}; the round's "
            "guarantee is weaker than (epsilon, delta) = ({}, {})",
            moved, max_weight_, total_, dp_->sensitivity, dp_->epsilon, dp_->delta);
      }
      for (size_t i = 0; i < agg.size(); ++i) {
        if (floating_[i])
          agg[i] += dp_->mechanism == dp::Mechanism::kGaussian ? noise_.gaussian(dp_->scale)
                                                               : noise_.laplace(dp_->scale);
      }
    }
    ++releases_;
    metrics_["dp_noise_scale"] = dp_->scale;
    if (args_.enable_rdp_accountant) {
      metrics_["dp_epsilon"] = dp::rdp_epsilon(*dp_, releases_, dp_->delta, args_.rdp_alpha);
      metrics_["dp_delta"] = dp_->delta;
    }
  }
  optimizer_.step(global_, agg, floating_);
  StateDict out;
  for (size_t k = 0; k < layout_.size(); ++k) {
    const auto& like = layout_[k].second;
    auto t = torch::from_blob(agg.data() + offsets_[k], like.sizes(), torch::kFloat64).clone();
    if (c10::isIntegralType(like.scalar_type(), /*includeBool=*/true)) t = t.round();
    out.emplace_back(layout_[k].first, t.to(like.scalar_type()));
  }
  return out;
}

StateDict ConfiguredAggregator::saved_state() const {
  auto s = optimizer_.saved_state();
  s.emplace_back("dp.releases", torch::tensor({releases_}, torch::kInt64));
  return s;
}

void ConfiguredAggregator::restore_state(const StateDict& state) {
  optimizer_.restore_state(state);
  for (const auto& [k, t] : state) {
    if (k == "dp.releases") releases_ = t.to(torch::kInt64).item<int64_t>();
  }
}

std::unique_ptr<Aggregator> make_configured_aggregator(const Args& a) {
  bool own_rule = a.federated_optimizer == "FedOpt" || a.federated_optimizer == "FedAvgM" ||
                  a.federated_optimizer == "FedNova";
  if (!own_rule && !a.enable_defense && !a.enable_dp) return std::make_unique<FedAvgAggregator>();
  return std::make_unique<ConfiguredAggregator>(a);
}

}  // namespace fedsilo
