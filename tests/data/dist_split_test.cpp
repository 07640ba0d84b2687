#include <gtest/gtest.h>

#include "fedsilo/dataset.h"

using fedsilo::data::split_for_dist_trainers;

TEST(SplitForDistTrainers, EqualBatchCountsAndExactCover) {
  for (int64_t n_samples : {0, 1, 7, 20, 23, 41, 100}) {
    for (int64_t trainers : {1, 2, 3}) {
      auto order = torch::randperm(n_samples, torch::kInt64);
      auto split = split_for_dist_trainers(order, 10, trainers);
      ASSERT_EQ(static_cast<int64_t>(split.size()), trainers);
      int64_t steps = (n_samples + 10 * trainers - 1) / (10 * trainers);
      std::vector<int64_t> seen;
      for (const auto& t : split)
        ASSERT_EQ(static_cast<int64_t>(t.size()), steps) << n_samples << "/" << trainers;
      for (int64_t s = 0; s < steps; ++s) {
        for (const auto& t : split) {
          EXPECT_LE(t[s].size(0), 10);
          for (int64_t i = 0; i < t[s].size(0); ++i) seen.push_back(t[s][i].item<int64_t>());
        }
      }
      // Step s of all trainers, concatenated, is exactly step s of one trainer with batch 10*n.
      auto joined = torch::tensor(seen, torch::kInt64);
      EXPECT_TRUE(torch::equal(joined, order)) << n_samples << "/" << trainers;
    }
  }
}
