#include "ml/central_dp.h"

#include "core/log.h"
#include "ml/defenses.h"
#include "ml/dp_mechanism.h"

namespace fedsilo {
namespace {

class DpStage : public AggregationStage {
 public:
  DpStage(const Args& a, std::optional<uint64_t> noise_seed)
      : calibration_(dp::calibrate(a)),
        central_(a.dp_solution_type == "cdp"),
        accountant_(a.enable_rdp_accountant),
        rdp_alpha_(a.rdp_alpha),
        noise_(noise_seed) {}

  bool on_update(std::vector<double>& x, const FlatModel& model) override {
    if (!central_) return false;
    return clip_to_ball(x, model, calibration_.clip,
                        calibration_.mechanism == dp::Mechanism::kLaplace);
  }

  void on_result(std::vector<double>& agg, const FlatModel& model, const Weights& w,
                 RoundFigures& figures) override {
    const auto& c = calibration_;
    if (central_) {
      // Replacing one silo's clipped update moves the weighted mean by at most
      // 2 * clip * weight / total: the noise covers that only up to the configured sensitivity.
      double moved = 2 * c.clip * w.largest / w.total;
      if (moved > c.sensitivity * (1 + 1e-12)) {
        SPDLOG_WARN(
            "central DP: one silo's update can move this round's aggregate by {:.4g} (it holds "
            "{:.0f} of {:.0f} samples), more than dp_args.sensitivity = {:.4g}; the round's "
            "guarantee is weaker than (epsilon, delta) = ({}, {})",
            moved, w.largest, w.total, c.sensitivity, c.epsilon, c.delta);
      }
      for (size_t i = 0; i < agg.size(); ++i) {
        if (model.floating(i))
          agg[i] += c.mechanism == dp::Mechanism::kGaussian ? noise_.gaussian(c.scale)
                                                            : noise_.laplace(c.scale);
      }
    }
    ++releases_;
    figures["dp_noise_scale"] = c.scale;
    if (accountant_) {
      figures["dp_epsilon"] = dp::rdp_epsilon(c, releases_, c.delta, rdp_alpha_);
      figures["dp_delta"] = c.delta;
    }
  }

  void save_state(StateDict& into) const override {
    into.emplace_back("dp.releases", torch::tensor({releases_}, torch::kInt64));
  }
  void restore_state(const StateDict& state) override {
    for (const auto& [k, t] : state) {
      if (k == "dp.releases") releases_ = t.to(torch::kInt64).item<int64_t>();
    }
  }

 private:
  dp::Calibration calibration_;
  bool central_, accountant_;
  double rdp_alpha_;
  dp::NoiseSource noise_;
  int64_t releases_ = 0;  // DP releases so far, for the accountant
};

}  // namespace

std::unique_ptr<AggregationStage> make_dp_stage(const Args& a, std::optional<uint64_t> noise_seed) {
  return std::make_unique<DpStage>(a, noise_seed);
}

}  // namespace fedsilo
