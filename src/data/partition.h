#pragma once
// Splits a labelled data set over K data silos ("clients" in FedML's words).
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace fedsilo::data {

using Partition = std::vector<std::vector<int64_t>>;  // [client] -> sample indices

// IID: a seeded permutation cut into K nearly equal parts.
Partition partition_homo(int64_t n_samples, int64_t n_clients, uint64_t seed);

struct HeteroResult {
  Partition parts;
  int64_t min_size = 0;  // smallest client of the chosen draw
  int attempts = 0;
  bool min_size_met = false;  // by a draw, before any top-up
  int64_t topped_up_to = 0;   // > 0: silos below this size were filled from the largest ones
};

// FedML's label-skewed Dirichlet(alpha) partition, with its balancing rule (a client that already
// holds N/K samples gets no more). FedML redraws until every client has min_size samples and
// loops forever when that cannot happen; this draws at most max_attempts times (once when
// min_size is impossible, N < K * min_size), keeps the draw with the largest minimum, and if
// that is still short moves samples from the largest silos to the smallest until each has
// min(min_size, floor(N / K)).
HeteroResult partition_hetero(const torch::Tensor& labels, int64_t n_clients, double alpha,
                              int64_t min_size, uint64_t seed, int max_attempts = 100);

}  // namespace fedsilo::data
