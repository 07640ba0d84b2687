#pragma once
// Byzantine-robust combining rules over whole models, each a pure function of the models given
// (flattened to one vector each). They need every model of the round at once, so the aggregator
// that uses them holds n models (docs/algorithms.md, "Memory"). Callers pass the models in a
// canonical order; the rules break ties by position, so results never depend on arrival order.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fedsilo::robust {

// One model: `values` points at `size` floats that stay valid during the call.
struct Point {
  const float* values = nullptr;
  double weight = 0;  // sample count, for the rules that weigh
};

// Krum (Blanchard et al. 2017): each model's score is the sum of squared L2 distances to its
// n - f - 2 nearest others; returns the indices of the `m` lowest scores (m = 1: Krum, m > 1:
// Multi-Krum), lowest first. The caller checks n >= 2f + 2 + m.
std::vector<size_t> krum_select(const std::vector<Point>& points, size_t size, int64_t f,
                                int64_t m);

// Per coordinate: the median (mean of the two middle values when n is even).
void coordinate_median(const std::vector<Point>& points, size_t size, double* out);

// Per coordinate: drops the floor(beta * n) smallest and largest values, averages the rest
// (Yin et al. 2018).
void coordinate_trimmed_mean(const std::vector<Point>& points, size_t size, double beta,
                             double* out);

// The weighted geometric median by smoothed Weiszfeld iterations (RFA, Pillutla et al. 2022):
// stops after `max_iterations` or when the objective improves by less than 1e-6 relative.
// Returns the iterations taken.
int64_t geometric_median(const std::vector<Point>& points, size_t size, int64_t max_iterations,
                         double* out);

// Weighted mean of `points` (the chosen Multi-Krum models), summed in float64.
void weighted_mean(const std::vector<Point>& points, size_t size, double* out);

}  // namespace fedsilo::robust
