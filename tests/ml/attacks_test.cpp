#include "ml/attacks.h"

#include <gtest/gtest.h>

#include "test_util.h"

using namespace fedsilo;

namespace {
Args attack_args(std::vector<std::string> sets) {
  sets.push_back("attack_args.enable_attack=true");
  sets.push_back("train_args.client_id_list=[1, 2, 3, 4, 5]");
  sets.push_back("train_args.client_num_in_total=5");
  sets.push_back("train_args.client_num_per_round=5");
  return parse_args_yaml("{}", sets);
}
}  // namespace

TEST(Attacks, AttackersAreAFixedSeededSubsetOfTheSilos) {
  auto a = attack_args({"attack_args.attack_type=byzantine", "attack_args.byzantine_client_num=2"});
  auto ids = attacks::attacking_silos(a);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids, attacks::attacking_silos(a));
  for (int id : ids) EXPECT_TRUE(attacks::is_attacker(a, id));
  a.enable_attack = false;
  EXPECT_TRUE(attacks::attacking_silos(a).empty());
  auto flip = attack_args(
      {"attack_args.attack_type=label_flipping", "attack_args.ratio_of_poisoned_client=0.4",
       "attack_args.original_class_list=[1]", "attack_args.target_class_list=[7]"});
  EXPECT_EQ(attacks::attacking_silos(flip).size(), 2u);
}

TEST(Attacks, LabelFlippingMapsTheListedClassesOnACopy) {
  auto a = attack_args(
      {"attack_args.attack_type=label_flipping", "attack_args.byzantine_client_num=1",
       "attack_args.original_class_list=[1, 2]", "attack_args.target_class_list=[2, 9]"});
  TensorData d{torch::zeros({5, 1}), torch::tensor({0, 1, 2, 3, 1}, torch::kInt64)};
  auto f = attacks::flip_labels(a, d);
  EXPECT_TRUE(torch::equal(f.y, torch::tensor({0, 2, 9, 3, 2}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(d.y, torch::tensor({0, 1, 2, 3, 1}, torch::kInt64)));
  int attacker = attacks::attacking_silos(a)[0];
  EXPECT_TRUE(torch::equal(attacks::data_to_train_on(a, attacker, d).y, f.y));
  int honest = attacker == 1 ? 2 : 1;
  EXPECT_TRUE(torch::equal(attacks::data_to_train_on(a, honest, d).y, d.y));
}

TEST(Attacks, ByzantineModesReplaceTheTrainedModel) {
  StateDict global = {{"w", torch::ones({3})}, {"n", torch::tensor({5})}};
  auto trained = [] { return StateDict{{"w", torch::full({3}, 1.5f)}, {"n", torch::tensor({5})}}; };
  for (std::string mode : {"zero", "random", "flip"}) {
    auto a = attack_args({"attack_args.attack_type=byzantine", "attack_args.byzantine_client_num=1",
                          "attack_args.attack_mode=" + mode});
    auto m = trained();
    attacks::corrupt_model(a, 3, 1, global, m);
    auto w = m[0].second;
    if (mode == "zero") EXPECT_TRUE(torch::equal(w, torch::zeros({3})));
    if (mode == "flip") EXPECT_TRUE(torch::allclose(w, torch::full({3}, 0.5f)));
    if (mode == "random") {
      EXPECT_TRUE((w >= 0).all().item<bool>() && (w < 1).all().item<bool>());
      auto again = trained();
      attacks::corrupt_model(a, 3, 1, global, again);
      EXPECT_TRUE(torch::equal(w, again[0].second)) << "seeded by (seed, round, silo)";
    }
    EXPECT_EQ(m[1].second.item<int64_t>(), 5) << "integer buffers untouched";
  }
}
