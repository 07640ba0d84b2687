#include "data/partition.h"

#include <gtest/gtest.h>

#include <set>

using namespace fedsilo::data;

namespace {
torch::Tensor labels(int64_t n, int classes) {
  return torch::arange(n, torch::kInt64).remainder(classes);
}

void expect_exact_cover(const Partition& p, int64_t n) {
  std::set<int64_t> seen;
  for (const auto& part : p) {
    for (int64_t i : part) EXPECT_TRUE(seen.insert(i).second) << "sample " << i << " in two silos";
  }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), n);
}
}  // namespace

TEST(Partition, HomoIsBalancedAndSeeded) {
  auto p = partition_homo(103, 10, 7);
  expect_exact_cover(p, 103);
  for (const auto& part : p) EXPECT_TRUE(part.size() == 10 || part.size() == 11);
  EXPECT_EQ(p, partition_homo(103, 10, 7));
  EXPECT_NE(p, partition_homo(103, 10, 8));
}

TEST(Partition, HeteroMeetsMinimumAndIsSeeded) {
  auto y = labels(2000, 10);
  auto r = partition_hetero(y, 20, 0.5, 10, 42);
  expect_exact_cover(r.parts, 2000);
  EXPECT_TRUE(r.min_size_met);
  EXPECT_GE(r.min_size, 10);
  EXPECT_EQ(r.parts, partition_hetero(y, 20, 0.5, 10, 42).parts);
  // Label skew: with alpha 0.5 some silo misses at least one class.
  bool skewed = false;
  for (const auto& part : r.parts) {
    std::set<int64_t> classes;
    for (int64_t i : part) classes.insert(i % 10);
    skewed |= classes.size() < 10;
  }
  EXPECT_TRUE(skewed);
}

TEST(Partition, HeteroTerminatesWhenMinimumIsImpossible) {
  // 800 samples over 100 silos cannot give each 10 (FedML loops forever here).
  auto y = labels(800, 10);
  auto r = partition_hetero(y, 100, 0.5, 10, 0);
  EXPECT_FALSE(r.min_size_met);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.topped_up_to, 8);
  expect_exact_cover(r.parts, 800);
  for (const auto& part : r.parts) EXPECT_GE(part.size(), 8u);
}
