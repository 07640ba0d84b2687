#include "secagg/secure_aggregation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <memory>

#include "fedsilo/error.h"
#include "secagg/shamir.h"

using namespace fedsilo;
using namespace fedsilo::secagg;

TEST(Shamir, AnyThresholdSharesRebuildTheSecretFewerDoNot) {
  std::string secret = "0123456789abcdef0123456789abcdef";
  auto shares = shamir_split(secret, 3, 5);
  ASSERT_EQ(shares.size(), 5u);
  EXPECT_EQ(shamir_combine({shares[0], shares[1], shares[2]}, 3), secret);
  EXPECT_EQ(shamir_combine({shares[4], shares[1], shares[3]}, 3), secret);
  EXPECT_EQ(shamir_combine({shares[2], shares[3], shares[4], shares[0]}, 3), secret);
  // Two shares of a threshold-3 secret interpolate a different line: not the secret.
  EXPECT_NE(shamir_combine({shares[0], shares[1]}, 2), secret);
  for (const auto& s : shares) EXPECT_NE(s.bytes, secret);
  EXPECT_THROW(shamir_combine({shares[0], shares[0], shares[1]}, 3), ProtocolError);
  EXPECT_THROW(shamir_combine({shares[0]}, 3), ProtocolError);
}

namespace {

StateDict model_of(double value, int64_t seed) {
  torch::manual_seed(seed);
  return {{"w", torch::randn({6, 5}) + value}, {"b", torch::randn({5}) * 3}};
}

// One round of the protocol among `n` silos (ids 1..n); the silos in `drop_after_sharing`
// share their keys but never upload. Returns the server's dequantised weighted average.
struct Round {
  Round(int n, Params params = {}) : params(params) {
    for (int i = 1; i <= n; ++i) {
      silos.push_back(std::make_unique<Participant>(i, "run", 7, params));
      u1.push_back(silos.back()->advertise());
    }
    for (int i = 1; i <= n; ++i) {
      for (auto& [to, cipher] : silos[i - 1]->share_keys(u1)) mailbox[to][i] = cipher;
      u2.push_back(i);
    }
  }
  StateDict run(const std::vector<StateDict>& models, const std::vector<double>& weights,
                const std::set<int64_t>& dropped, std::vector<std::vector<uint64_t>>* uploads) {
    int64_t length = 0;
    for (const auto& [n, t] : models[0]) length += t.numel();
    ServerRound server("run", 7, params, u1, length);
    for (size_t i = 0; i < silos.size(); ++i) {
      int64_t id = static_cast<int64_t>(i) + 1;
      auto y =
          silos[i]->mask(quantize(models[i], weights[i], silos.size(), params), mailbox[id], u2);
      if (uploads) uploads->push_back(y);
      if (!dropped.count(id)) server.add_masked(id, y, u2);
    }
    std::vector<int64_t> alive = server.survivors(), gone(dropped.begin(), dropped.end());
    std::map<int64_t, Revealed> revealed;
    for (int64_t id : alive) revealed[id] = silos[id - 1]->reveal(alive, gone);
    double total = 0;
    for (int64_t id : alive) total += weights[id - 1];
    return dequantize(server.unmask(u2, revealed), models[0], total, params);
  }
  Params params;
  std::vector<std::unique_ptr<Participant>> silos;
  std::vector<Advert> u1;
  std::vector<int64_t> u2;
  std::map<int64_t, std::map<int64_t, std::string>> mailbox;  // to -> from -> ciphertext
};

torch::Tensor plain_average(const std::vector<StateDict>& models,
                            const std::vector<double>& weights, const std::set<int64_t>& skip,
                            size_t tensor) {
  torch::Tensor sum = torch::zeros_like(models[0][tensor].second, torch::kFloat64);
  double total = 0;
  for (size_t i = 0; i < models.size(); ++i) {
    if (skip.count(static_cast<int64_t>(i) + 1)) continue;
    sum += models[i][tensor].second.to(torch::kFloat64) * weights[i];
    total += weights[i];
  }
  return sum / total;
}

}  // namespace

TEST(SecureAggregation, SumEqualsPlainFedAvgWithinTheQuantisationError) {
  std::vector<StateDict> models;
  std::vector<double> weights = {58, 87, 120, 3};
  for (int i = 0; i < 4; ++i) models.push_back(model_of(i - 1.5, i));
  Round round(4);
  auto avg = round.run(models, weights, {}, nullptr);
  // Each silo rounds once, by at most half a step of 2^-16, scaled by its weight.
  double bound = 0.5 * std::ldexp(1.0, -16) + 1e-6;
  for (size_t t = 0; t < avg.size(); ++t) {
    auto diff = (avg[t].second.to(torch::kFloat64) - plain_average(models, weights, {}, t)).abs();
    EXPECT_LE(diff.max().item<double>(), bound) << avg[t].first;
  }
}

TEST(SecureAggregation, UploadsRevealNothingWithoutTheOthersMasks) {
  // Silo 1's model is all zeros: unmasked, its upload would be all zeros too.
  std::vector<StateDict> models = {
      {{"w", torch::zeros({4000})}}, {{"w", torch::ones({4000})}}, {{"w", torch::ones({4000})}}};
  Round round(3);
  std::vector<std::vector<uint64_t>> uploads;
  round.run(models, {1, 1, 1}, {}, &uploads);
  const double p = static_cast<double>(round.params.prime);
  for (size_t u = 0; u < uploads.size(); ++u) {
    // Uniform over Z_p: mean near p/2, and every one of 16 equal bins near 1/16 of the values.
    std::vector<int> bins(16, 0);
    double mean = 0;
    for (uint64_t y : uploads[u]) {
      mean += static_cast<double>(y) / p;
      ++bins[static_cast<size_t>(static_cast<double>(y) / p * 16)];
    }
    mean /= uploads[u].size();
    EXPECT_NEAR(mean, 0.5, 0.02) << "silo " << u + 1;
    for (int b : bins) EXPECT_NEAR(b, 4000 / 16, 80) << "silo " << u + 1;
  }
  // Even two uploads together (all but one silo) still carry a uniform mask.
  double mean = 0;
  for (size_t i = 0; i < 4000; ++i) {
    uint64_t s = (uploads[0][i] + uploads[1][i]) % round.params.prime;
    mean += static_cast<double>(s) / p;
  }
  EXPECT_NEAR(mean / 4000, 0.5, 0.02);
}

TEST(SecureAggregation, ASiloThatDropsAfterSharingIsRecovered) {
  std::vector<StateDict> models;
  std::vector<double> weights = {10, 20, 30, 40, 50};
  for (int i = 0; i < 5; ++i) models.push_back(model_of(i, 10 + i));
  Round round(5);
  // Silo 4 shared its keys, then went away before uploading: the survivors' pairwise masks with
  // it are removed from its rebuilt key, and the sum is theirs alone.
  auto avg = round.run(models, weights, {4}, nullptr);
  for (size_t t = 0; t < avg.size(); ++t) {
    auto want = plain_average(models, weights, {4}, t);
    EXPECT_LE((avg[t].second.to(torch::kFloat64) - want).abs().max().item<double>(), 1e-4);
  }
}

TEST(SecureAggregation, TooFewSurvivorsAreNotUnmasked) {
  std::vector<StateDict> models;
  for (int i = 0; i < 4; ++i) models.push_back(model_of(0, i));
  Round round(4);  // threshold 3
  EXPECT_THROW(round.run(models, {1, 1, 1, 1}, {2, 3}, nullptr), ProtocolError);
}

TEST(SecureAggregation, ForgedSharesAndInconsistentRequestsAreRefused) {
  Round round(3);
  auto q = quantize(model_of(0, 1), 1.0, 3, round.params);
  auto forged = round.mailbox[1];
  forged[2][5] ^= 1;
  try {
    round.silos[0]->mask(q, forged, round.u2);
    FAIL() << "a tampered ciphertext must not decrypt";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("from silo 2 do not decrypt"), std::string::npos);
  }
  round.silos[0]->mask(q, round.mailbox[1], round.u2);
  // Asking for both shares of silo 2 (alive and dropped) would let the server unmask it.
  EXPECT_THROW(round.silos[0]->reveal({1, 2}, {2}), ProtocolError);
  EXPECT_THROW(round.silos[0]->reveal({2, 3}, {}), ProtocolError);  // not asked as a survivor
  EXPECT_NO_THROW(round.silos[0]->reveal({1, 3}, {2}));
}

TEST(SecureAggregation, ValuesThatCannotFitTheFieldAreRefused) {
  Params small{32749, 10};  // FedML's default prime: room for sums below 16 only
  EXPECT_THROW(quantize({{"w", torch::full({2}, 20.0)}}, 1.0, 1, small), ProtocolError);
  EXPECT_THROW(quantize({{"w", torch::full({2}, NAN)}}, 1.0, 1, Params{}), ProtocolError);
  EXPECT_NO_THROW(quantize({{"w", torch::full({2}, 3.0)}}, 1.0, 4, small));
  EXPECT_THROW(check_params({32750, 10}), ConfigError);
  EXPECT_THROW(check_params({(uint64_t(1) << 61) - 1, 60}), ConfigError);
  EXPECT_NO_THROW(check_params({32749, 10}));
}
