#pragma once
// Differential privacy's pieces (docs/algorithms.md, "Differential privacy"): the mechanism's
// calibration from dp_args, clipping an update to the norm the calibration assumes, a noise
// source that silos and observers cannot predict, and an RDP accountant.
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "fedsilo/args.h"

namespace fedsilo::dp {

enum class Mechanism { kGaussian, kLaplace };

struct Calibration {
  Mechanism mechanism = Mechanism::kGaussian;
  double sensitivity = 1;  // L2 (gaussian) or L1 (laplace) sensitivity of what is released
  double clip = 0.5;       // each update's norm bound, same norm as `sensitivity`
  double scale = 0;        // gaussian: standard deviation; laplace: b
  double epsilon = 0, delta = 0;
};

// Gaussian: sigma = sensitivity * sqrt(2 ln(1.25 / delta)) / epsilon (Dwork & Roth 2014,
// Theorem A.1); Laplace: b = sensitivity / epsilon. The clip defaults to sensitivity / 2: two
// updates inside that ball differ by at most the sensitivity.
Calibration calibrate(const Args& args);

// Scales `delta` (n values) into the ball of radius `bound` (L2 for gaussian, L1 for laplace);
// returns its norm before clipping.
double clip_update(double* delta, size_t n, double bound, Mechanism mechanism);

// ChaCha20 keystream (libsodium) turned into noise. Without a seed the key comes from the OS's
// CSPRNG, so nobody who knows the config can predict (and subtract) the noise; a seed is for
// tests only.
class NoiseSource {
 public:
  explicit NoiseSource(std::optional<uint64_t> test_seed = std::nullopt);
  double uniform();  // in (0, 1)
  double gaussian(double sigma);
  double laplace(double b);
  // Adds noise of the calibration's mechanism and scale to each of n values.
  void add_noise(double* values, size_t n, const Calibration& c);

 private:
  uint64_t next_word();
  std::array<unsigned char, 32> key_{};
  uint64_t block_ = 0;
  std::vector<uint64_t> words_;
  size_t used_ = 0;
};

// Renyi DP of one release (Mironov 2017, Table II): gaussian alpha / (2 z^2) with z =
// sigma / sensitivity; laplace with lambda = b / sensitivity.
double rdp_of_one_release(const Calibration& c, double alpha);

// Composes `releases` identical releases and converts to (epsilon, delta)-DP:
// epsilon = min over alpha of releases * rdp(alpha) + ln(1 / delta) / (alpha - 1)
// (Mironov 2017, Proposition 3). `alpha` > 1 reports at that order only (FedML's rdp_alpha);
// 0 takes the best of a standard grid of orders.
double rdp_epsilon(const Calibration& c, int64_t releases, double delta, double alpha = 0);

}  // namespace fedsilo::dp
