#include <gtest/gtest.h>

#include <algorithm>

#include "fedsilo/aggregator.h"

using namespace fedsilo;

namespace {
StateDict random_model(int64_t seed) {
  torch::manual_seed(seed);
  return {{"w", torch::randn({64, 33})},
          {"b", torch::randn({33}) * 1e-3},
          {"n", torch::tensor({seed * 10})}};
}
}  // namespace

TEST(FedAvg, WeightedMeanBySampleCount) {
  FedAvgAggregator agg;
  StateDict a = {{"w", torch::tensor({1.0f, 2.0f})}}, b = {{"w", torch::tensor({3.0f, 6.0f})}};
  agg.reset(a);
  agg.accumulate(a, 1);
  agg.accumulate(b, 3);
  auto r = agg.report();
  EXPECT_TRUE(torch::allclose(r[0].second, torch::tensor({2.5f, 5.0f})));
  EXPECT_EQ(agg.total_weight(), 4);
}

TEST(FedAvg, ArrivalOrderDoesNotChangeOneBit) {
  std::vector<StateDict> models;
  std::vector<double> weights;
  for (int i = 0; i < 8; ++i) {
    models.push_back(random_model(i));
    weights.push_back(17 + 13 * i);
  }
  std::vector<int> order = {0, 1, 2, 3, 4, 5, 6, 7};
  FedAvgAggregator ref;
  ref.reset(models[0]);
  for (int i : order) ref.accumulate(models[i], weights[i]);
  auto expected = ref.report();
  int permutations = 0;
  do {
    FedAvgAggregator agg;
    agg.reset(models[0]);
    for (int i : order) agg.accumulate(models[i], weights[i]);
    auto got = agg.report();
    for (size_t t = 0; t < got.size(); ++t)
      ASSERT_TRUE(torch::equal(got[t].second, expected[t].second));
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()) && permutations < 200);
}

TEST(FedAvg, MergeEqualsAccumulatingEverything) {
  FedAvgAggregator all, left, right;
  auto like = random_model(0);
  for (auto* a : {&all, &left, &right}) a->reset(like);
  for (int i = 0; i < 6; ++i) {
    all.accumulate(random_model(i), i + 1);
    (i % 2 ? left : right).accumulate(random_model(i), i + 1);
  }
  left.merge(right);
  auto a = all.report(), b = left.report();
  for (size_t t = 0; t < a.size(); ++t) EXPECT_TRUE(torch::equal(a[t].second, b[t].second));
}

TEST(FedAvg, IntegerBuffersKeepTheirType) {
  FedAvgAggregator agg;
  StateDict a = {{"n", torch::tensor({10})}}, b = {{"n", torch::tensor({20})}};
  agg.reset(a);
  agg.accumulate(a, 1);
  agg.accumulate(b, 1);
  auto r = agg.report();
  EXPECT_EQ(r[0].second.scalar_type(), torch::kInt64);
  EXPECT_EQ(r[0].second.item<int64_t>(), 15);
}

TEST(FedAvg, RejectsMismatchedShapes) {
  FedAvgAggregator agg;
  agg.reset({{"w", torch::zeros({2})}});
  EXPECT_ANY_THROW(agg.accumulate({{"w", torch::zeros({3})}}, 1));
  EXPECT_ANY_THROW(agg.report());  // nothing accumulated
}
