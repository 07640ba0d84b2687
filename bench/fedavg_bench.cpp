// FedAvg aggregation throughput: parameters folded per second for models of 10k, 10M and 100M
// float32 parameters and 2..32 silos, next to a plain `a[i] += w * b[i]` loop over the same
// element types (float64 accumulator, float32 input) measured in the same run. The ratio says how
// close the aggregator gets to the memory bandwidth it cannot beat.
//
//   build/bench/bench_fedavg [--quick]
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "fedsilo/aggregator.h"

namespace {
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The baseline: the loop FedAvg must run at least once per parameter per silo.
__attribute__((noinline)) void axpy(double* __restrict a, const float* __restrict b, int64_t n,
                                    double w) {
  for (int64_t i = 0; i < n; ++i) a[i] += w * static_cast<double>(b[i]);
}

// A model shaped like a real one: a few large matrices and small bias vectors.
fedsilo::StateDict make_model(int64_t params, int seed) {
  torch::manual_seed(seed);
  fedsilo::StateDict s;
  int64_t left = params, i = 0;
  while (left > 0) {
    int64_t n = std::min<int64_t>(left, std::max<int64_t>(params / 4, 1));
    s.emplace_back(fmt::format("layer{}.weight", i), torch::randn({n}));
    left -= n;
    if (left > 0) {
      int64_t b = std::min<int64_t>(left, 10);
      s.emplace_back(fmt::format("layer{}.bias", i), torch::randn({b}));
      left -= b;
    }
    ++i;
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  torch::set_num_threads(1);
  std::vector<int64_t> sizes = quick ? std::vector<int64_t>{10'000, 10'000'000}
                                     : std::vector<int64_t>{10'000, 10'000'000, 100'000'000};
  std::vector<int> silo_counts = {2, 8, 32};
  fmt::print("{:>12} {:>6} {:>16} {:>16} {:>8} {:>14}\n", "params", "silos", "fedavg param/s",
             "a+=w*b param/s", "ratio", "round (ms)");
  for (int64_t params : sizes) {
    // Two distinct inputs are enough: each fold streams the whole model whatever its values.
    std::vector<fedsilo::StateDict> inputs = {make_model(params, 1), make_model(params, 2)};
    std::vector<torch::Tensor> flat = {torch::randn({params}), torch::randn({params})};
    int repeats = params >= 100'000'000 ? 3 : params >= 10'000'000 ? 5 : 200;
    for (int silos : silo_counts) {
      std::vector<double> agg_s, base_s, round_s;
      for (int r = 0; r < repeats; ++r) {
        fedsilo::FedAvgAggregator agg;
        auto t0 = Clock::now();
        agg.reset(inputs[0]);
        auto t1 = Clock::now();
        for (int k = 0; k < silos; ++k) agg.accumulate(inputs[k % 2], 100 + k);
        auto t2 = Clock::now();
        auto out = agg.report();
        auto t3 = Clock::now();
        agg_s.push_back(std::chrono::duration<double>(t2 - t1).count());
        round_s.push_back(std::chrono::duration<double>(t3 - t0).count());

        std::vector<double> acc(params, 0.0);
        auto b0 = Clock::now();
        for (int k = 0; k < silos; ++k)
          axpy(acc.data(), flat[k % 2].data_ptr<float>(), params, 100 + k);
        base_s.push_back(std::chrono::duration<double>(Clock::now() - b0).count());
        if (acc[params / 2] == 12345.678) fmt::print("");  // keep the loop
      }
      double folded = static_cast<double>(params) * silos;
      double agg_rate = folded / median(agg_s), base_rate = folded / median(base_s);
      fmt::print("{:>12} {:>6} {:>16.3e} {:>16.3e} {:>7.0f}% {:>14.3f}\n", params, silos, agg_rate,
                 base_rate, 100.0 * agg_rate / base_rate, 1e3 * median(round_s));
    }
  }
  return 0;
}
