// SCAFFOLD's server side against the paper's equations (Karimireddy et al. 2020, Algorithm 1,
// option II), worked by hand on a two-coordinate model.
#include "ml/scaffold_aggregator.h"

#include <gtest/gtest.h>

#include "test_util.h"

using namespace fedsilo;

namespace {
Args scaffold_args(std::vector<std::string> sets = {}) {
  sets.push_back("train_args.federated_optimizer=SCAFFOLD");
  sets.push_back("train_args.learning_rate=0.1");
  sets.push_back("train_args.client_id_list=[1, 2]");
  sets.push_back("train_args.client_num_in_total=4");
  sets.push_back("train_args.client_num_per_round=2");
  return parse_args_yaml("{}", sets);
}

StateDict model(float a, float b) {
  return {{"w", torch::tensor({a, b})}, {"n", torch::tensor({int64_t{4}})}};
}

std::vector<float> values(const torch::Tensor& t) {
  auto f = t.to(torch::kFloat32).contiguous();
  return {f.data_ptr<float>(), f.data_ptr<float>() + f.numel()};
}

void expect_near(const torch::Tensor& t, std::vector<float> want) {
  auto got = values(t);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << "coordinate " << i;
}

// Round 0 by hand: x = (1, 2), lr = 0.1, N = 4. Data silo 0 takes K = 2 steps to (0.8, 2.2) with
// weight 1; data silo 3 takes K = 4 steps to (1.2, 1.6) with weight 3.
//   c_0+ = (x - y_0) / (2 * 0.1) = (1, -1);  c_3+ = (x - y_3) / (4 * 0.1) = (-0.5, 1)
//   c    = 0 + (1/4) ((1, -1) + (-0.5, 1)) = (0.125, 0)
//   x'   = (1 * (0.8, 2.2) + 3 * (1.2, 1.6)) / 4 = (1.1, 1.75)
StateDict round_zero(ScaffoldAggregator& agg, bool reversed = false) {
  agg.reset(model(1, 2));
  auto a = [&] { agg.accumulate_update(model(0.8f, 2.2f), 1, UpdateInfo{1, 2, 0}); };
  auto b = [&] { agg.accumulate_update(model(1.2f, 1.6f), 3, UpdateInfo{2, 4, 3}); };
  if (reversed) {
    b();
    a();
  } else {
    a();
    b();
  }
  return agg.report();
}
}  // namespace

TEST(Scaffold, ControlVariatesFollowThePapersEquationsWorkedByHand) {
  ScaffoldAggregator agg(scaffold_args());
  auto x1 = round_zero(agg);
  expect_near(x1[0].second, {1.1f, 1.75f});
  EXPECT_EQ(x1[1].second.item<int64_t>(), 4) << "integer buffers take the mean";
  EXPECT_EQ(agg.round_metrics().at("scaffold_controls_updated"), 2);

  agg.reset(x1);
  // What each data silo's request carries: c - c_i.
  expect_near(agg.correction_for(0)[0].second, {-0.875f, 1.0f});
  expect_near(agg.correction_for(3)[0].second, {0.625f, -1.0f});
  expect_near(agg.correction_for(1)[0].second, {0.125f, 0.0f});  // never trained: c_1 = 0
  EXPECT_EQ(agg.correction_for(0)[1].second.item<int64_t>(), 0) << "no correction for integers";
  EXPECT_EQ(agg.correction_for(0)[0].second.scalar_type(), torch::kFloat32);

  // Round 1: data silo 0 again, K = 1, to (1.0, 1.75).
  //   c_0+ = c_0 - c + (x - y) / 0.1 = (1, -1) - (0.125, 0) + (1, 0) = (1.875, -1)
  //   c    = (0.125, 0) + (1/4) ((1.875, -1) - (1, -1)) = (0.34375, 0)
  agg.accumulate_update(model(1.0f, 1.75f), 2, UpdateInfo{1, 1, 0});
  expect_near(agg.report()[0].second, {1.0f, 1.75f});
  agg.reset(model(1.0f, 1.75f));
  expect_near(agg.correction_for(0)[0].second, {0.34375f - 1.875f, 1.0f});
  expect_near(agg.correction_for(3)[0].second, {0.34375f + 0.5f, -1.0f});
}

TEST(Scaffold, StateSurvivesSaveAndRestoreAndIgnoresArrivalOrder) {
  ScaffoldAggregator a(scaffold_args()), b(scaffold_args());
  auto xa = round_zero(a), xb = round_zero(b, true);
  EXPECT_TRUE(torch::equal(xa[0].second, xb[0].second));
  a.reset(xa);
  b.reset(xa);
  EXPECT_TRUE(torch::equal(a.correction_for(0)[0].second, b.correction_for(0)[0].second));

  ScaffoldAggregator restored(scaffold_args());
  restored.restore_state(a.saved_state());
  restored.reset(xa);
  for (int64_t j : {0, 1, 3})
    EXPECT_TRUE(torch::equal(restored.correction_for(j)[0].second, a.correction_for(j)[0].second));
  // A checkpoint of another model, or a forged entry, is named.
  auto state = a.saved_state();
  state.emplace_back("scaffold.c_9", torch::zeros({2}));
  EXPECT_THROW(restored.restore_state(state), ConfigError) << "data silo 9 of 4";
  ScaffoldAggregator other(scaffold_args());
  other.restore_state(a.saved_state());
  EXPECT_THROW(other.reset({{"w", torch::zeros({5})}}), ConfigError);
}

TEST(Scaffold, ServerLrStepsTowardTheMeanAndUpdatesNeedTheirSteps) {
  ScaffoldAggregator agg(scaffold_args({"train_args.server_lr=0.5"}));
  // x + 0.5 (mean - x) with mean (1.1, 1.75): (1.05, 1.875).
  expect_near(round_zero(agg)[0].second, {1.05f, 1.875f});
  agg.reset(model(1, 2));
  EXPECT_ANY_THROW(agg.accumulate(model(1, 2), 1)) << "no data silo, no steps";
  EXPECT_ANY_THROW(agg.accumulate_update(model(1, 2), 1, UpdateInfo{1, 1, -1}));
  agg.accumulate_update(model(0, 0), 1, UpdateInfo{1, 0, 2});  // trained nothing
  agg.report();
  EXPECT_EQ(agg.round_metrics().at("scaffold_controls_updated"), 0);
}
