#include "ml/robust_rules.h"

#include <gtest/gtest.h>

#include <random>

using namespace fedsilo;

namespace {
struct Models {
  std::vector<std::vector<float>> values;
  std::vector<robust::Point> points() const {
    std::vector<robust::Point> p;
    for (const auto& v : values) p.push_back({v.data(), 1.0});
    return p;
  }
};

// n honest models scattered around `centre`, then the crafted ones.
Models honest_and_crafted(int honest, const std::vector<std::vector<float>>& crafted,
                          float centre) {
  Models m;
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0, 0.1f);
  for (int i = 0; i < honest; ++i) m.values.push_back({centre + noise(rng), centre + noise(rng)});
  for (const auto& c : crafted) m.values.push_back(c);
  return m;
}
}  // namespace

TEST(Krum, PicksAnHonestModelAmongCraftedOnes) {
  // Two attackers far away, together (so each has one near neighbour) and a scattered one.
  auto m = honest_and_crafted(5, {{50, 50}, {50.1f, 50}}, 1.0f);
  auto chosen = robust::krum_select(m.points(), 2, /*f=*/2, /*m=*/1);
  ASSERT_EQ(chosen.size(), 1u);
  EXPECT_LT(chosen[0], 5u) << "Krum chose crafted model " << chosen[0];
}

TEST(Krum, ScoresAreSumsOverTheNMinusFMinus2Nearest) {
  // On a line: 0, 1, 3, 10. f = 0, so each sums its 2 nearest squared distances.
  Models m{{{0}, {1}, {3}, {10}}};
  // scores: 0 -> 1 + 9 = 10; 1 -> 1 + 4 = 5; 3 -> 4 + 9 = 13; 10 -> 49 + 81 = 130.
  auto order = robust::krum_select(m.points(), 1, 0, 4);
  EXPECT_EQ(order, (std::vector<size_t>{1, 0, 2, 3}));
}

TEST(MultiKrum, AveragesTheMBestByWeight) {
  auto m = honest_and_crafted(4, {{-40, 40}}, 2.0f);
  auto points = m.points();
  auto chosen = robust::krum_select(points, 2, 1, 3);
  ASSERT_EQ(chosen.size(), 3u);
  for (size_t i : chosen) EXPECT_LT(i, 4u);
  std::vector<robust::Point> kept;
  for (size_t i : chosen) kept.push_back(points[i]);
  double out[2];
  robust::weighted_mean(kept, 2, out);
  EXPECT_NEAR(out[0], 2.0, 0.3);
  EXPECT_NEAR(out[1], 2.0, 0.3);
}

TEST(CoordinateMedian, OddAndEvenCounts) {
  Models odd{{{1, 100}, {5, -3}, {2, 7}}};
  double out[2];
  robust::coordinate_median(odd.points(), 2, out);
  EXPECT_EQ(out[0], 2);
  EXPECT_EQ(out[1], 7);
  Models even{{{1}, {5}, {2}, {1000}}};
  robust::coordinate_median(even.points(), 1, out);
  EXPECT_EQ(out[0], 3.5);
}

TEST(TrimmedMean, CutsBetaNAtEachEnd) {
  Models m{{{-1000}, {1}, {2}, {3}, {1000}}};
  double out[1];
  robust::coordinate_trimmed_mean(m.points(), 1, 0.2, out);  // cut 1 each side
  EXPECT_DOUBLE_EQ(out[0], 2.0);
  robust::coordinate_trimmed_mean(m.points(), 1, 0.0, out);
  EXPECT_DOUBLE_EQ(out[0], 6.0 / 5);
}

TEST(GeometricMedian, ResistsAFarOutlierWhereTheMeanDoesNot) {
  auto m = honest_and_crafted(6, {{1000, -1000}}, 1.0f);
  double mean[2], gm[2];
  robust::weighted_mean(m.points(), 2, mean);
  int64_t it = robust::geometric_median(m.points(), 2, 200, gm);
  EXPECT_GT(std::abs(mean[0] - 1), 100);
  EXPECT_NEAR(gm[0], 1.0, 0.2);
  EXPECT_NEAR(gm[1], 1.0, 0.2);
  EXPECT_GT(it, 1);
}
