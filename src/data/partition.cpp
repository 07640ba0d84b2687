#include "data/partition.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace fedsilo::data {

Partition partition_homo(int64_t n_samples, int64_t n_clients, uint64_t seed) {
  std::vector<int64_t> order(n_samples);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  Partition parts(n_clients);
  int64_t base = n_samples / n_clients, extra = n_samples % n_clients, pos = 0;
  for (int64_t c = 0; c < n_clients; ++c) {
    int64_t take = base + (c < extra ? 1 : 0);
    parts[c].assign(order.begin() + pos, order.begin() + pos + take);
    pos += take;
  }
  return parts;
}

namespace {

Partition dirichlet_draw(const std::vector<std::vector<int64_t>>& by_class, int64_t n_samples,
                         int64_t n_clients, double alpha, std::mt19937_64& rng) {
  Partition parts(n_clients);
  std::gamma_distribution<double> gamma(alpha, 1.0);
  double cap = static_cast<double>(n_samples) / static_cast<double>(n_clients);
  std::vector<double> p(n_clients);
  for (const auto& cls : by_class) {
    std::vector<int64_t> idx = cls;
    std::shuffle(idx.begin(), idx.end(), rng);
    double sum = 0;
    for (int64_t c = 0; c < n_clients; ++c) {
      double g = gamma(rng);
      p[c] = static_cast<double>(parts[c].size()) < cap ? g : 0.0;
      sum += p[c];
    }
    if (sum <= 0) {  // every client full or all draws underflowed: spread evenly
      std::fill(p.begin(), p.end(), 1.0);
      sum = static_cast<double>(n_clients);
    }
    // Cut points as in FedML: floor(cumsum(p) * len), last one implied.
    double acc = 0;
    int64_t start = 0, n = static_cast<int64_t>(idx.size());
    for (int64_t c = 0; c < n_clients; ++c) {
      acc += p[c] / sum;
      int64_t end = c + 1 == n_clients ? n : std::min<int64_t>(n, static_cast<int64_t>(acc * n));
      end = std::max(end, start);
      parts[c].insert(parts[c].end(), idx.begin() + start, idx.begin() + end);
      start = end;
    }
  }
  return parts;
}

}  // namespace

HeteroResult partition_hetero(const torch::Tensor& labels, int64_t n_clients, double alpha,
                              int64_t min_size, uint64_t seed, int max_attempts) {
  auto y = labels.to(torch::kInt64).contiguous();
  int64_t n = y.size(0);
  const int64_t* py = y.data_ptr<int64_t>();
  int64_t n_classes = n > 0 ? y.max().item<int64_t>() + 1 : 0;
  std::vector<std::vector<int64_t>> by_class(n_classes);
  for (int64_t i = 0; i < n; ++i) by_class[py[i]].push_back(i);

  std::mt19937_64 rng(seed);
  HeteroResult best;
  best.min_size = -1;
  bool feasible = n >= n_clients * min_size;
  int attempts = feasible ? max_attempts : 1;
  for (int a = 1; a <= attempts; ++a) {
    Partition parts = dirichlet_draw(by_class, n, n_clients, alpha, rng);
    int64_t smallest = n;
    for (const auto& p : parts) smallest = std::min<int64_t>(smallest, p.size());
    if (smallest > best.min_size) {
      best.parts = std::move(parts);
      best.min_size = smallest;
    }
    best.attempts = a;
    if (best.min_size >= min_size) break;
  }
  best.min_size_met = best.min_size >= min_size;
  if (!best.min_size_met) {
    // Top up the smallest silos from the largest (the largest's last-drawn samples, i.e. its
    // last class), to min_size or, when that is impossible, to floor(N / K). Deterministic and
    // bounded, where FedML would redraw forever.
    best.topped_up_to = std::min<int64_t>(min_size, n / n_clients);
    auto& parts = best.parts;
    for (auto& small : parts) {
      while (static_cast<int64_t>(small.size()) < best.topped_up_to) {
        auto big = std::max_element(parts.begin(), parts.end(), [](const auto& a, const auto& b) {
          return a.size() < b.size();
        });
        small.push_back(big->back());
        big->pop_back();
      }
    }
  }
  // Each client's samples in ascending index order: the draw decides membership, not order.
  for (auto& p : best.parts) std::sort(p.begin(), p.end());
  return best;
}

}  // namespace fedsilo::data
