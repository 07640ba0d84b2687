#include <gtest/gtest.h>

#include "fedsilo/error.h"
#include "fedsilo/model.h"
#include "fedsilo/state_dict.h"

using namespace fedsilo;

TEST(ModelRegistry, LrIsOneLinearLayerOfLogits) {
  Args a;
  a.model = "lr";
  auto m = model::create(a, 10);
  auto s = state_of(m.module());
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].first, "linear.weight");
  EXPECT_EQ(s[0].second.sizes(), torch::IntArrayRef({10, 784}));
  auto out = m.forward(torch::rand({3, 784}));
  EXPECT_EQ(out.sizes(), torch::IntArrayRef({3, 10}));
  // Logits, not probabilities: a row need not sum to 1 and may be negative.
  EXPECT_LT(out.min().item<float>(), 0.0f);
}

TEST(ModelRegistry, CnnIsTheFedAvgPaperNetwork) {
  Args a;
  a.model = "cnn";
  auto m = model::create(a, 10);
  int64_t params = 0;
  for (const auto& [name, t] : state_of(m.module())) params += t.numel();
  // 5x5x1x32+32 + 5x5x32x64+64 + 3136x512+512 + 512x10+10 (the paper's 1,663,370)
  EXPECT_EQ(params, 1663370);
  EXPECT_EQ(m.forward(torch::rand({2, 784})).sizes(), torch::IntArrayRef({2, 10}));
}

TEST(ModelRegistry, SameSeedSameInitialModel) {
  Args a;
  auto m1 = model::create(a, 10), m2 = model::create(a, 10);
  a.random_seed = 1;
  auto m3 = model::create(a, 10);
  EXPECT_TRUE(torch::equal(state_of(m1.module())[0].second, state_of(m2.module())[0].second));
  EXPECT_FALSE(torch::equal(state_of(m1.module())[0].second, state_of(m3.module())[0].second));
}

TEST(ModelRegistry, UnknownModelIsAConfigError) {
  Args a;
  a.model = "resnet";
  EXPECT_THROW(model::create(a, 10), ConfigError);
}
