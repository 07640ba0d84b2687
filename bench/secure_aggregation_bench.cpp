// What secure aggregation costs per round, by step, for models of 10k and 1M float32 values and
// 2..8 silos, next to plain FedAvg's fold of the same models measured in the same run (the
// server's work without SA). Silo side: quantise + mask (n+1 ChaCha20 expansions); server side:
// sum of the masked inputs + unmask (one expansion per survivor, one per survivor x dropped).
//
//   build/bench/bench_secure_aggregation [--quick]
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "fedsilo/aggregator.h"
#include "secagg/secure_aggregation.h"

namespace {
using Clock = std::chrono::steady_clock;
using namespace fedsilo;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Figures {
  double silo_ms, server_ms, plain_ms;
};

// One round among n silos; `dropped` of them share keys and never upload.
Figures round_of(int64_t values, int n, int dropped, const StateDict& model) {
  secagg::Params params;
  std::vector<std::unique_ptr<secagg::Participant>> silos;
  std::vector<secagg::Advert> u1;
  std::vector<int64_t> u2;
  for (int i = 1; i <= n; ++i) {
    silos.push_back(std::make_unique<secagg::Participant>(i, "bench", 0, params));
    u1.push_back(silos.back()->advertise());
    u2.push_back(i);
  }
  std::map<int64_t, std::map<int64_t, std::string>> mail;
  for (int i = 1; i <= n; ++i) {
    for (auto& [to, c] : silos[i - 1]->share_keys(u1)) mail[to][i] = c;
  }
  secagg::ServerRound server("bench", 0, params, u1, values);
  std::vector<double> silo_ms;
  double server_ms = 0;
  for (int i = 1; i <= n; ++i) {
    auto t0 = Clock::now();
    auto y = silos[i - 1]->mask(secagg::quantize(model, 100.0, n, params), mail[i], u2);
    silo_ms.push_back(ms_since(t0));
    if (i > n - dropped) continue;
    t0 = Clock::now();
    server.add_masked(i, y, u2);
    server_ms += ms_since(t0);
  }
  auto alive = server.survivors();
  std::vector<int64_t> gone;
  for (int i = n - dropped + 1; i <= n; ++i) gone.push_back(i);
  std::map<int64_t, secagg::Revealed> revealed;
  for (int64_t id : alive) revealed[id] = silos[id - 1]->reveal(alive, gone);
  auto t0 = Clock::now();
  auto sum = server.unmask(u2, revealed);
  server_ms += ms_since(t0);
  // Plain FedAvg: the server folds the same number of float32 models.
  auto agg = registry::aggregators().get("FedAvg")(Args{});
  agg->reset(model);
  t0 = Clock::now();
  for (int i = 0; i < n - dropped; ++i) agg->accumulate(model, 100.0);
  auto plain = agg->report();
  double plain_ms = ms_since(t0);
  return {median(silo_ms), server_ms, plain_ms};
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  torch::set_num_threads(1);
  std::vector<int64_t> sizes = {10000, quick ? 100000 : 1000000};
  fmt::print("{:>9} {:>6} {:>8} {:>11} {:>12} {:>14} {:>10}\n", "values", "silos", "dropped",
             "silo ms", "server ms", "plain fold ms", "server x");
  for (int64_t values : sizes) {
    StateDict model = {{"w", torch::randn({values}) * 0.1}};
    for (int n : {2, 4, 8}) {
      for (int dropped : {0, 1}) {
        if (dropped && n < 4) continue;  // a majority must remain
        std::vector<double> silo, server, plain;
        for (int r = 0; r < (quick ? 1 : 5); ++r) {
          auto f = round_of(values, n, dropped, model);
          silo.push_back(f.silo_ms);
          server.push_back(f.server_ms);
          plain.push_back(f.plain_ms);
        }
        double s = median(server), p = median(plain);
        fmt::print("{:>9} {:>6} {:>8} {:>11.2f} {:>12.2f} {:>14.2f} {:>10.1f}\n", values, n,
                   dropped, median(silo), s, p, s / p);
      }
    }
  }
  return 0;
}
