#include "fedsilo/aggregation_rule.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/args_json.h"
#include "ml/dp_mechanism.h"
#include "ml/fednova.h"
#include "test_util.h"

using namespace fedsilo;

namespace {
StateDict model_near(const StateDict& global, int64_t seed, double spread) {
  torch::manual_seed(seed);
  StateDict out;
  for (const auto& [k, t] : global) {
    if (t.is_floating_point()) {
      out.emplace_back(k, t + torch::randn(t.sizes()) * spread);
    } else {
      out.emplace_back(k, t + seed);
    }
  }
  return out;
}

StateDict global_model() {
  torch::manual_seed(99);
  return {{"w", torch::randn({16, 9})}, {"b", torch::randn({9}) * 1e-2}, {"n", torch::tensor({4})}};
}

// The registry's aggregator for the config (its federated_optimizer, defense and DP).
std::unique_ptr<Aggregator> made(const Args& a) {
  return registry::aggregators().get(a.federated_optimizer)(a);
}

Args args_with(std::vector<std::string> sets) {
  sets.push_back("train_args.client_id_list=[1, 2, 3, 4, 5, 6]");
  sets.push_back("train_args.client_num_in_total=6");
  sets.push_back("train_args.client_num_per_round=6");
  return parse_args_yaml("{}", sets);
}

StateDict run_round(Aggregator& agg, const StateDict& global, const std::vector<StateDict>& models,
                    const std::vector<double>& weights) {
  agg.reset(global);
  for (size_t i = 0; i < models.size(); ++i) agg.accumulate(models[i], weights[i]);
  return agg.report();
}

void expect_same_bytes(const StateDict& a, const StateDict& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].second.scalar_type(), b[i].second.scalar_type()) << a[i].first;
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
}

struct Round {
  StateDict global = global_model();
  std::vector<StateDict> models;
  std::vector<double> weights;
  explicit Round(int n = 6) {
    for (int i = 0; i < n; ++i) {
      models.push_back(model_near(global, i + 1, 0.05));
      weights.push_back(10 + 7 * i);
    }
  }
};
}  // namespace

TEST(FedOpt, SgdWithLrOneAndNoMomentumIsFedAvgByteForByte) {
  Round r;
  FedAvgAggregator fedavg;
  auto expected = run_round(fedavg, r.global, r.models, r.weights);
  auto fedopt = made(args_with({"train_args.federated_optimizer=FedOpt"}));
  expect_same_bytes(run_round(*fedopt, r.global, r.models, r.weights), expected);
  // The registry's FedAvg, FedProx and FedOpt(sgd, 1, 0) all give FedAvg's bytes.
  for (std::string name : {"FedAvg", "FedProx", "FedOpt"}) {
    auto agg =
        registry::aggregators().get(name)(args_with({"train_args.federated_optimizer=" + name}));
    expect_same_bytes(run_round(*agg, r.global, r.models, r.weights), expected);
  }
}

TEST(FedOpt, ServerMomentumFollowsTorchSgdByHand) {
  // One coordinate: global 1, every silo sends 0.5, so the pseudo-gradient is 0.5.
  StateDict g = {{"w", torch::tensor({1.0f})}};
  StateDict s = {{"w", torch::tensor({0.5f})}};
  auto made_agg = made(args_with({"train_args.federated_optimizer=FedAvgM",
                                  "train_args.server_lr=0.1", "train_args.server_momentum=0.9"}));
  auto& agg = *made_agg;
  auto r1 = run_round(agg, g, {s}, {1});
  EXPECT_FLOAT_EQ(r1[0].second.item<float>(), 1.0f - 0.1f * 0.5f);  // buffer = d
  // Round 2 from x = 0.95 with the silo at 0.45: d = 0.5, buffer = 0.9 * 0.5 + 0.5 = 0.95.
  StateDict g2 = {{"w", torch::tensor({0.95f})}}, s2 = {{"w", torch::tensor({0.45f})}};
  auto r2 = run_round(agg, g2, {s2}, {1});
  EXPECT_NEAR(r2[0].second.item<float>(), 0.95 - 0.1 * 0.95, 1e-6);
}

TEST(FedOpt, AdamStepsAsReddiEtAlAlgorithm2) {
  StateDict g = {{"w", torch::tensor({1.0f})}}, s = {{"w", torch::tensor({0.0f})}};
  auto made_agg = made(args_with({"train_args.federated_optimizer=FedOpt",
                                  "train_args.server_optimizer=adam", "train_args.server_lr=0.1"}));
  auto& agg = *made_agg;
  // delta = -1; m = 0.1 * -1 = -0.1; v = 0.99 * 1e-6 + 0.01 * 1 = 0.01000099;
  // x = 1 + 0.1 * -0.1 / (sqrt(v) + 1e-3).
  double v = 0.99 * 1e-6 + 0.01;
  double expected = 1 + 0.1 * -0.1 / (std::sqrt(v) + 1e-3);
  auto r = run_round(agg, g, {s}, {1});
  EXPECT_NEAR(r[0].second.item<float>(), expected, 1e-6);
}

TEST(FedOpt, StateSurvivesSaveAndRestore) {
  // Two rounds in one aggregator equal one round, a save, a fresh aggregator and its restore.
  Round r;
  auto args = args_with({"train_args.federated_optimizer=FedOpt",
                         "train_args.server_optimizer=yogi", "train_args.server_lr=0.05"});
  auto straight = made(args), first = made(args);
  auto g1 = run_round(*straight, r.global, r.models, r.weights);
  auto end_straight = run_round(*straight, g1, r.models, r.weights);
  run_round(*first, r.global, r.models, r.weights);
  auto resumed = made(args);
  resumed->restore_state(clone_state(first->saved_state()));
  expect_same_bytes(run_round(*resumed, g1, r.models, r.weights), end_straight);
}

TEST(Defense, KrumKeepsTheHonestUpdateAndIgnoresArrivalOrder) {
  Round r(5);
  StateDict crafted = r.global;
  for (auto& [k, t] : crafted) {
    if (t.is_floating_point()) t = t + 100;
  }
  r.models.push_back(crafted);
  r.weights.push_back(1000);
  auto args = args_with({"defense_args.enable_defense=true", "defense_args.defense_type=krum",
                         "defense_args.byzantine_client_num=1"});
  auto krum = made(args);
  auto out = run_round(*krum, r.global, r.models, r.weights);
  // The result is one of the honest models exactly.
  bool is_honest = false;
  for (int i = 0; i < 5; ++i) is_honest |= torch::equal(out[0].second, r.models[i][0].second);
  EXPECT_TRUE(is_honest);
  EXPECT_EQ(krum->round_metrics().at("defense_models_kept"), 1);
  std::vector<size_t> order = {5, 4, 3, 2, 1, 0};
  std::vector<StateDict> reversed;
  std::vector<double> w;
  for (size_t i : order) {
    reversed.push_back(r.models[i]);
    w.push_back(r.weights[i]);
  }
  auto again = made(args);
  expect_same_bytes(run_round(*again, r.global, reversed, w), out);
}

TEST(Defense, MedianAndTrimmedMeanIgnoreAnOutlier) {
  Round r(5);
  StateDict crafted = r.global;
  for (auto& [k, t] : crafted) {
    if (t.is_floating_point()) t = t - 1000;
  }
  r.models.push_back(crafted);
  r.weights.push_back(10);
  for (std::string type :
       {"coordinate_wise_median", "coordinate_wise_trimmed_mean", "geometric_median"}) {
    auto agg = made(args_with({"defense_args.enable_defense=true",
                               "defense_args.defense_type=" + type, "defense_args.beta=0.2"}));
    auto out = run_round(*agg, r.global, r.models, r.weights);
    double moved = (out[0].second - r.global[0].second).abs().max().item<double>();
    EXPECT_LT(moved, 1.0) << type;
  }
}

TEST(Defense, NormDiffClippingBoundsEachUpdate) {
  StateDict g = {{"w", torch::zeros({4})}};
  StateDict far = {{"w", torch::full({4}, 10.0f)}};  // norm 20
  auto agg = made(
      args_with({"defense_args.enable_defense=true", "defense_args.defense_type=norm_diff_clipping",
                 "defense_args.norm_bound=2"}));
  auto out = run_round(*agg, g, {far}, {1});
  EXPECT_NEAR(out[0].second.norm().item<double>(), 2.0, 1e-5);
  EXPECT_EQ(agg->round_metrics().at("updates_clipped"), 1);
}

TEST(CentralDp, AddsNoiseOfTheCalibratedScaleAndCountsEpsilon) {
  StateDict g = {{"w", torch::zeros({20000})}};
  auto args = args_with({"dp_args.enable_dp=true", "dp_args.dp_solution_type=cdp",
                         "dp_args.epsilon=1", "dp_args.delta=1e-5", "dp_args.sensitivity=0.1",
                         "dp_args.enable_rdp_accountant=true"});
  auto made_agg = compose_aggregator(args, nullptr, nullptr, /*noise_seed=*/5);
  auto& agg = *made_agg;
  auto out = run_round(agg, g, {g, g}, {1, 1});
  double sigma = 0.1 * std::sqrt(2 * std::log(1.25e5));
  double std = out[0].second.std().item<double>();
  EXPECT_NEAR(std, sigma, sigma * 0.03);  // 20000 draws: the std's error is about 0.5 %
  auto m = agg.round_metrics();
  EXPECT_NEAR(m.at("dp_noise_scale"), sigma, 1e-12);
  EXPECT_NEAR(m.at("dp_epsilon"), dp::rdp_epsilon(dp::calibrate(args), 1, 1e-5), 1e-12);
  run_round(agg, g, {g, g}, {1, 1});
  EXPECT_NEAR(agg.round_metrics().at("dp_epsilon"), dp::rdp_epsilon(dp::calibrate(args), 2, 1e-5),
              1e-12);
}

TEST(CentralDp, AnEpsilonNoModelSurvivesStopsTheRunBeforeItStarts) {
  for (const char* mechanism : {"gaussian", "laplace"}) {
    auto args = args_with({"dp_args.enable_dp=true", "dp_args.dp_solution_type=cdp",
                           std::string("dp_args.mechanism_type=") + mechanism,
                           "dp_args.epsilon=1e-300", "dp_args.sensitivity=0.1"});
    try {
      auto agg = compose_aggregator(args, nullptr, nullptr, 5);
      ADD_FAILURE() << mechanism << ": a hopeless epsilon was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("raise dp_args.epsilon"), std::string::npos) << e.what();
    }
  }
  auto fine = args_with({"dp_args.enable_dp=true", "dp_args.dp_solution_type=cdp",
                         "dp_args.epsilon=0.01", "dp_args.sensitivity=0.1"});
  EXPECT_NO_THROW(compose_aggregator(fine, nullptr, nullptr, 5));
}

TEST(FedNova, EqualStepsGiveFedAvgAndUnequalStepsNormalise) {
  auto args = args_with({"train_args.federated_optimizer=FedNova"});
  Round r(3);
  FedAvgAggregator fedavg;
  auto mean = run_round(fedavg, r.global, r.models, r.weights);
  auto made_nova = made(args);
  auto& nova = *made_nova;
  nova.reset(r.global);
  for (size_t i = 0; i < r.models.size(); ++i)
    nova.accumulate_update(r.models[i], r.weights[i], UpdateInfo{int64_t(i + 1), 7});
  auto same = nova.report();
  EXPECT_TRUE(torch::allclose(same[0].second, mean[0].second, 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(same[2].second, mean[2].second)) << "integer buffers: FedAvg";

  // By hand, one coordinate: x = 0; silo A (weight 1) took 1 step to 1, silo B (weight 1) took
  // 4 steps to 2. d_A = -1, d_B = -0.5, tau_eff = 2.5: x' = 0 + 2.5 * (1 + 0.5) / 2 = 1.875
  // (FedAvg would give 1.5).
  StateDict x = {{"w", torch::tensor({0.0f})}};
  nova.reset(x);
  nova.accumulate_update({{"w", torch::tensor({1.0f})}}, 1, UpdateInfo{1, 1});
  nova.accumulate_update({{"w", torch::tensor({2.0f})}}, 1, UpdateInfo{2, 4});
  EXPECT_FLOAT_EQ(nova.report()[0].second.item<float>(), 1.875f);
  EXPECT_DOUBLE_EQ(nova.round_metrics().at("fednova_tau_eff"), 2.5);
  EXPECT_ANY_THROW(nova.accumulate(x, 1)) << "FedNova cannot run without local steps";
}

TEST(FedNova, MomentumChangesTheNormaliser) {
  EXPECT_DOUBLE_EQ(fednova_a(5, 0), 5);
  // rho = 0.5, tau = 2: (2 - 0.5 * (1 - 0.25) / 0.5) / 0.5 = (2 - 0.75) / 0.5 = 2.5.
  EXPECT_DOUBLE_EQ(fednova_a(2, 0.5), 2.5);
}

// docs/architecture.md, "Adding an aggregation rule": this rule and its key, as a user's file
// would hold them. The new global model moves `train_args.damping` of the way to the mean.
namespace {
class DampedMean : public CombineRule {
 public:
  explicit DampedMean(double damping) : damping_(damping) {}
  void reset(const FlatModel& model) override {
    model_ = &model;
    sums_.assign(model.size(), 0.0);
  }
  void add(std::vector<double> x, double weight, const UpdateInfo&) override {
    for (size_t i = 0; i < x.size(); ++i) sums_[i] += weight * x[i];
  }
  void merge(const CombineRule&) override { throw Error("DampedMean: no merge"); }
  std::vector<double> combine(double total, RoundFigures&) override {
    std::vector<double> out(sums_.size());
    for (size_t i = 0; i < out.size(); ++i) {
      double g = model_->global()[i];
      out[i] = model_->floating(i) ? g + damping_ * (sums_[i] / total - g) : sums_[i] / total;
    }
    return out;
  }

 private:
  double damping_;
  const FlatModel* model_ = nullptr;
  std::vector<double> sums_;
};

[[maybe_unused]] const bool kDampedMeanRegistered = [] {
  register_config_key("train_args", "damping", /*default=*/1.0, /*lo=*/0.0, /*hi=*/1.0);
  registry::aggregators().add("FedDampedTest", [](const Args& a) {
    return compose_aggregator(a, std::make_unique<DampedMean>(a.extra_value("train_args.damping")));
  });
  return true;
}();
}  // namespace

TEST(AggregationRule, ANewRuleWithOneKeyRunsAndComposesWithCentralDp) {
  StateDict g = {{"w", torch::zeros({20000})}, {"n", torch::tensor({4})}};
  StateDict a = {{"w", torch::full({20000}, 1.0f)}, {"n", torch::tensor({6})}};
  StateDict b = {{"w", torch::full({20000}, 3.0f)}, {"n", torch::tensor({8})}};
  auto args =
      args_with({"train_args.federated_optimizer=FedDampedTest", "train_args.damping=0.25"});
  EXPECT_EQ(args.extra_value("train_args.damping"), 0.25);
  EXPECT_EQ(args_to_json(args)["train_args"]["damping"], 0.25) << "the run's recorded config";
  auto plain = made(args);
  auto out = run_round(*plain, g, {a, b}, {1, 1});
  EXPECT_FLOAT_EQ(out[0].second[0].item<float>(), 0.5f);  // 0 + 0.25 * (2 - 0)
  EXPECT_EQ(out[1].second.item<int64_t>(), 7) << "integer buffers: the mean";

  // Central DP wraps it like any rule: the updates are clipped to the clip norm, the result
  // noised at the calibrated scale, the release counted.
  auto dp_args =
      args_with({"train_args.federated_optimizer=FedDampedTest", "train_args.damping=0.25",
                 "dp_args.enable_dp=true", "dp_args.dp_solution_type=cdp",
                 "dp_args.sensitivity=0.1", "dp_args.enable_rdp_accountant=true"});
  auto noisy = made(dp_args);
  auto n = run_round(*noisy, g, {a, b}, {1, 1});
  auto m = noisy->round_metrics();
  double sigma = dp::calibrate(dp_args).scale;
  EXPECT_NEAR(m.at("dp_noise_scale"), sigma, 1e-12);
  EXPECT_EQ(m.at("updates_clipped"), 2);
  EXPECT_GT(m.at("dp_epsilon"), 0);
  // Clipped to norm 0.05 over 20000 coordinates, damped: the mean is ~0; what is left is noise.
  EXPECT_NEAR(n[0].second.std().item<double>(), sigma, sigma * 0.03);
  EXPECT_LT(std::abs(n[0].second.mean().item<double>()), 4 * sigma / std::sqrt(20000.0));
}

TEST(AggregationRule, ARegisteredKeyIsCheckedLikeAnyOther) {
  try {
    args_with({"train_args.federated_optimizer=FedDampedTest", "train_args.damping=2"});
    ADD_FAILURE() << "damping 2 is outside [0, 1]";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train_args.damping"), std::string::npos) << e.what();
  }
  auto defaults = args_with({"train_args.federated_optimizer=FedDampedTest"});
  EXPECT_EQ(defaults.extra_value("train_args.damping"), 1.0);
  EXPECT_THROW(defaults.extra_value("train_args.nobody_registered"), ConfigError);
  EXPECT_THROW(register_config_key("train_args", "damping", 1, 0, 1), Error) << "twice";
  EXPECT_THROW(register_config_key("train_args", "epochs", 1, 0, 1), Error) << "a schema key";
}
