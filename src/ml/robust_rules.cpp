#include "ml/robust_rules.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace fedsilo::robust {
namespace {

double squared_distance(const float* a, const float* b, size_t size) {
  double s = 0;
  for (size_t i = 0; i < size; ++i) {
    double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    s += d * d;
  }
  return s;
}

double distance_to(const float* a, const double* z, size_t size) {
  double s = 0;
  for (size_t i = 0; i < size; ++i) {
    double d = static_cast<double>(a[i]) - z[i];
    s += d * d;
  }
  return std::sqrt(s);
}

// Applies `reduce` to each coordinate's n values, sorted ascending.
template <typename Reduce>
void per_coordinate_sorted(const std::vector<Point>& points, size_t size, double* out,
                           Reduce reduce) {
  std::vector<double> column(points.size());
  for (size_t i = 0; i < size; ++i) {
    for (size_t k = 0; k < points.size(); ++k) column[k] = points[k].values[i];
    std::sort(column.begin(), column.end());
    out[i] = reduce(column);
  }
}

}  // namespace

std::vector<size_t> krum_select(const std::vector<Point>& points, size_t size, int64_t f,
                                int64_t m) {
  size_t n = points.size();
  std::vector<std::vector<double>> dist(n, std::vector<double>(n, 0));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      dist[i][j] = dist[j][i] = squared_distance(points[i].values, points[j].values, size);
    }
  }
  int64_t nearest = std::max<int64_t>(static_cast<int64_t>(n) - f - 2, 1);
  std::vector<double> score(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> others;
    for (size_t j = 0; j < n; ++j) {
      if (j != i) others.push_back(dist[i][j]);
    }
    std::sort(others.begin(), others.end());
    size_t take = std::min(others.size(), static_cast<size_t>(nearest));
    score[i] = std::accumulate(others.begin(), others.begin() + take, 0.0);
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return score[a] < score[b]; });
  order.resize(std::min(n, static_cast<size_t>(std::max<int64_t>(m, 1))));
  return order;
}

void coordinate_median(const std::vector<Point>& points, size_t size, double* out) {
  per_coordinate_sorted(points, size, out, [](const std::vector<double>& c) {
    size_t n = c.size();
    return n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
  });
}

void coordinate_trimmed_mean(const std::vector<Point>& points, size_t size, double beta,
                             double* out) {
  size_t cut = static_cast<size_t>(std::floor(beta * static_cast<double>(points.size())));
  per_coordinate_sorted(points, size, out, [cut](const std::vector<double>& c) {
    size_t keep = c.size() - 2 * cut;
    double s = 0;
    for (size_t k = cut; k < cut + keep; ++k) s += c[k];
    return s / static_cast<double>(keep);
  });
}

int64_t geometric_median(const std::vector<Point>& points, size_t size, int64_t max_iterations,
                         double* out) {
  // Smoothing (Pillutla et al., Algorithm 2's nu) keeps the weights finite when the estimate
  // lands on a model.
  constexpr double kNu = 1e-6, kTolerance = 1e-6;
  weighted_mean(points, size, out);
  auto objective = [&](const double* z) {
    double s = 0;
    for (const auto& p : points) s += p.weight * distance_to(p.values, z, size);
    return s;
  };
  double previous = objective(out);
  std::vector<double> next(size);
  int64_t it = 0;
  while (it < max_iterations) {
    ++it;
    std::fill(next.begin(), next.end(), 0.0);
    double total = 0;
    for (const auto& p : points) {
      double beta = p.weight / std::max(kNu, distance_to(p.values, out, size));
      for (size_t i = 0; i < size; ++i) next[i] += beta * static_cast<double>(p.values[i]);
      total += beta;
    }
    for (size_t i = 0; i < size; ++i) out[i] = next[i] / total;
    double value = objective(out);
    bool converged = std::abs(previous - value) <= kTolerance * value;
    previous = value;
    if (converged) break;
  }
  return it;
}

void weighted_mean(const std::vector<Point>& points, size_t size, double* out) {
  double total = 0;
  std::fill(out, out + size, 0.0);
  for (const auto& p : points) {
    for (size_t i = 0; i < size; ++i) out[i] += p.weight * static_cast<double>(p.values[i]);
    total += p.weight;
  }
  if (total > 0) {
    for (size_t i = 0; i < size; ++i) out[i] /= total;
  }
}

}  // namespace fedsilo::robust
