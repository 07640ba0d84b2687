#include "ml/dp_mechanism.h"

#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"

using namespace fedsilo;

namespace {
dp::Calibration calibration(const std::vector<std::string>& sets) {
  std::vector<std::string> all = {"dp_args.enable_dp=true"};
  all.insert(all.end(), sets.begin(), sets.end());
  return dp::calibrate(parse_args_yaml("{}", all));
}

// Mean and standard deviation of n draws.
std::pair<double, double> moments(const std::vector<double>& v) {
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= v.size();
  for (double x : v) s += (x - m) * (x - m);
  return {m, std::sqrt(s / (v.size() - 1))};
}
}  // namespace

TEST(DpMechanism, GaussianCalibrationIsDworkRothTheoremA1) {
  auto c = calibration({"dp_args.epsilon=0.5", "dp_args.delta=0.1", "dp_args.sensitivity=2"});
  EXPECT_NEAR(c.scale, 2 * std::sqrt(2 * std::log(12.5)) / 0.5, 1e-12);
  EXPECT_EQ(c.clip, 1.0) << "the clip defaults to half the sensitivity";
  auto l = calibration({"dp_args.mechanism_type=laplace", "dp_args.epsilon=0.25"});
  EXPECT_EQ(l.mechanism, dp::Mechanism::kLaplace);
  EXPECT_DOUBLE_EQ(l.scale, 4.0);
}

TEST(DpMechanism, NoiseHasTheConfiguredScale) {
  dp::NoiseSource noise(42);
  std::vector<double> g(200000), l(200000);
  for (auto& x : g) x = noise.gaussian(3.0);
  for (auto& x : l) x = noise.laplace(2.0);
  auto [gm, gs] = moments(g);
  auto [lm, ls] = moments(l);
  // 200k draws: the standard error of the mean is 3 / 447 = 0.007, of the std about 0.5 %.
  EXPECT_NEAR(gm, 0, 0.03);
  EXPECT_NEAR(gs, 3.0, 0.03);
  EXPECT_NEAR(lm, 0, 0.03);
  EXPECT_NEAR(ls, 2.0 * std::sqrt(2.0), 0.04);  // Laplace(b) has std b * sqrt(2)
}

TEST(DpMechanism, UnseededNoiseDiffersBetweenSources) {
  dp::NoiseSource a, b;
  EXPECT_NE(a.gaussian(1), b.gaussian(1));
  dp::NoiseSource c(1), d(1);
  EXPECT_EQ(c.gaussian(1), d.gaussian(1));
}

TEST(DpMechanism, ClippingBoundsTheNormAndKeepsSmallUpdates) {
  std::vector<double> big = {3, 4}, small = {0.3, 0.4};
  EXPECT_DOUBLE_EQ(dp::clip_update(big.data(), 2, 1.0, dp::Mechanism::kGaussian), 5.0);
  EXPECT_NEAR(big[0], 0.6, 1e-12);
  EXPECT_NEAR(big[1], 0.8, 1e-12);
  dp::clip_update(small.data(), 2, 1.0, dp::Mechanism::kGaussian);
  EXPECT_EQ(small, (std::vector<double>{0.3, 0.4}));
  std::vector<double> l1 = {3, -1};
  EXPECT_DOUBLE_EQ(dp::clip_update(l1.data(), 2, 2.0, dp::Mechanism::kLaplace), 4.0);
  EXPECT_DOUBLE_EQ(std::abs(l1[0]) + std::abs(l1[1]), 2.0);
}

TEST(RdpAccountant, MatchesValuesComputedIndependently) {
  // sigma = sqrt(2 ln(1.25e5)) = 4.8448..., 10 releases, delta 1e-5. Computed separately in
  // Python from the same formulas: alpha = 10 gives 3.409399095846677; the best order of the
  // grid (8) gives 3.348851762088433.
  auto c = calibration({"dp_args.epsilon=1", "dp_args.delta=1e-5", "dp_args.sensitivity=1"});
  EXPECT_NEAR(dp::rdp_epsilon(c, 10, 1e-5, 10), 3.409399095846677, 1e-9);
  EXPECT_NEAR(dp::rdp_epsilon(c, 10, 1e-5), 3.348851762088433, 1e-9);
  // Laplace, b = 2 (lambda = 2): RDP at alpha = 2 is 0.20030389617361605; 5 releases at
  // alpha = 8 with delta 1e-5 give 3.6960430466643475.
  auto l = calibration({"dp_args.mechanism_type=laplace", "dp_args.epsilon=0.5"});
  EXPECT_NEAR(dp::rdp_of_one_release(l, 2), 0.20030389617361605, 1e-12);
  EXPECT_NEAR(dp::rdp_epsilon(l, 5, 1e-5, 8), 3.6960430466643475, 1e-9);
  // epsilon grows with the number of releases.
  EXPECT_LT(dp::rdp_epsilon(c, 1, 1e-5), dp::rdp_epsilon(c, 2, 1e-5));
}
