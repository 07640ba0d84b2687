#include "ml/defenses.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/args_checks.h"
#include "core/config_choices.h"
#include "core/rule_checks.h"
#include "fedsilo/error.h"
#include "ml/dp_mechanism.h"
#include "ml/robust_rules.h"

namespace fedsilo {
namespace {

enum class Robust { kKrum, kMedian, kTrimmedMean, kGeometricMedian };

struct DefenseType {
  const char* name;
  std::optional<Robust> rule;  // none: norm_diff_clipping
};

// FedML's names, and the aliases fedsilo accepted before.
const std::vector<DefenseType>& defense_types() {
  static const std::vector<DefenseType> types = {
      {"krum", Robust::kKrum},
      {"multikrum", Robust::kKrum},
      {"coordinate_wise_median", Robust::kMedian},
      {"median", Robust::kMedian},
      {"coordinate_wise_trimmed_mean", Robust::kTrimmedMean},
      {"trimmed_mean", Robust::kTrimmedMean},
      {"geometric_median", Robust::kGeometricMedian},
      {"rfa", Robust::kGeometricMedian},
      {"norm_diff_clipping", std::nullopt},
  };
  return types;
}

const DefenseType& defense_of(const Args& a) {
  for (const auto& t : defense_types()) {
    if (a.defense_type == t.name) return t;
  }
  throw ConfigError("defense_args.defense_type " + a.defense_type + " is not a defense");
}

bool is_multikrum(const Args& a) { return a.defense_type == "multikrum"; }

// Rules that need every model of the round at once: n models in float32 (docs/algorithms.md,
// "Memory").
class RobustRule : public CombineRule {
 public:
  RobustRule(Robust kind, const Args& a)
      : kind_(kind),
        f_(a.byzantine_client_num),
        m_(is_multikrum(a) ? a.krum_param_m : 1),
        beta_(a.trimmed_mean_beta),
        iterations_(a.geometric_median_iterations) {}

  void reset(const FlatModel& model) override {
    size_ = model.size();
    entries_.clear();
  }
  void add(std::vector<double> x, double weight, const UpdateInfo&) override {
    entries_.push_back({weight, std::vector<float>(x.begin(), x.end())});
  }
  void merge(const CombineRule& other) override {
    const auto* o = dynamic_cast<const RobustRule*>(&other);
    if (!o || o->kind_ != kind_) throw Error("aggregator: can only merge one of the same rule");
    entries_.insert(entries_.end(), o->entries_.begin(), o->entries_.end());
  }
  std::vector<double> combine(double, RoundFigures& figures) override;

 private:
  struct Entry {
    double weight;
    std::vector<float> values;
  };
  Robust kind_;
  int64_t f_, m_;
  double beta_;
  int64_t iterations_;
  size_t size_ = 0;
  std::vector<Entry> entries_;
};

std::vector<double> RobustRule::combine(double, RoundFigures& figures) {
  std::vector<double> out(size_);
  // A canonical order: the result is a function of the set of models, not of arrival order.
  std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.weight != b.weight) return a.weight < b.weight;
    return a.values < b.values;
  });
  std::vector<robust::Point> points;
  for (const auto& e : entries_) points.push_back({e.values.data(), e.weight});
  switch (kind_) {
    case Robust::kKrum: {
      std::vector<robust::Point> kept;
      for (size_t i : robust::krum_select(points, size_, f_, m_)) kept.push_back(points[i]);
      robust::weighted_mean(kept, size_, out.data());
      figures["defense_models_kept"] = static_cast<double>(kept.size());
      break;
    }
    case Robust::kMedian:
      robust::coordinate_median(points, size_, out.data());
      break;
    case Robust::kTrimmedMean:
      robust::coordinate_trimmed_mean(points, size_, beta_, out.data());
      break;
    case Robust::kGeometricMedian:
      figures["geometric_median_iterations"] =
          static_cast<double>(robust::geometric_median(points, size_, iterations_, out.data()));
      break;
  }
  return out;
}

class NormClip : public AggregationStage {
 public:
  explicit NormClip(double bound) : bound_(bound) {}
  bool on_update(std::vector<double>& x, const FlatModel& model) override {
    return clip_to_ball(x, model, bound_, /*l1=*/false);
  }

 private:
  double bound_;
};

void check_defense_keys(const Args& a) {
  if (!a.enable_defense || a.defense_type.empty()) return;
  auto fail = [](const std::string& msg) { config_fail(msg); };
  auto rule = defense_of(a).rule;
  int64_t n = a.min_clients_per_round ? a.min_clients_per_round : a.client_num_per_round;
  int64_t f = a.byzantine_client_num;
  if (rule == Robust::kKrum && 2 * f + 2 > n - a.krum_param_m) {
    fail(fmt::format(
        "defense_args {} tolerates byzantine_client_num = {} only with at least 2f + 2 + "
        "krum_param_m = {} models in every round; a round may close with {} "
        "(train_args.min_clients_per_round, or client_num_per_round)",
        a.defense_type, f, 2 * f + 2 + a.krum_param_m, n));
  }
  for (int64_t m = n; rule == Robust::kTrimmedMean && m <= a.client_num_per_round; ++m) {
    int64_t cut = static_cast<int64_t>(std::floor(a.trimmed_mean_beta * static_cast<double>(m)));
    if (m - 2 * cut < 1) {
      fail(fmt::format(
          "defense_args.beta = {:g} trims {} of the {} models at each end of a round that "
          "closes with {}, keeping none: every such round would be rejected; lower beta, or "
          "raise min_clients_per_round / client_num_per_round",
          a.trimmed_mean_beta, cut, m, m));
    }
  }
  if (is_multikrum(a) && a.krum_param_m < 2)
    fail(
        "defense_args.defense_type multikrum averages krum_param_m >= 2 models; set "
        "krum_param_m or use krum");
}

[[maybe_unused]] const bool kRegistered = [] {
  register_config_choices("defense_args.defense_type", [] {
    std::vector<std::string> names;
    for (const auto& t : defense_types()) names.push_back(t.name);
    return names;
  });
  register_config_check("defense_args", check_defense_keys);
  return true;
}();

}  // namespace

bool clip_to_ball(std::vector<double>& x, const FlatModel& model, double bound, bool l1) {
  const auto& g = model.global();
  std::vector<double> delta(x.size(), 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    if (model.floating(i)) delta[i] = x[i] - g[i];
  }
  auto norm = l1 ? dp::Mechanism::kLaplace : dp::Mechanism::kGaussian;
  if (dp::clip_update(delta.data(), delta.size(), bound, norm) <= bound) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (model.floating(i)) x[i] = g[i] + delta[i];
  }
  model.round_to_dtypes(x);
  return true;
}

void apply_defense(const Args& a, std::unique_ptr<CombineRule>& rule,
                   std::vector<std::unique_ptr<AggregationStage>>& stages) {
  if (!a.enable_defense) return;
  auto robust = defense_of(a).rule;
  if (robust) {
    rule = std::make_unique<RobustRule>(*robust, a);
  } else {
    stages.push_back(std::make_unique<NormClip>(a.norm_bound));
  }
}

}  // namespace fedsilo
