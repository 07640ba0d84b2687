#include "ml/dp_mechanism.h"

#include <fmt/format.h>
#include <sodium.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/seed.h"
#include "fedsilo/error.h"

namespace fedsilo::dp {
namespace {
constexpr double kMaxNoiseScale = 1e30;
}  // namespace

Calibration calibrate(const Args& a) {
  Calibration c;
  c.mechanism = a.mechanism_type == "laplace" ? Mechanism::kLaplace : Mechanism::kGaussian;
  c.sensitivity = a.dp_sensitivity;
  c.clip = a.dp_clipping_norm > 0 ? a.dp_clipping_norm : a.dp_sensitivity / 2;
  c.epsilon = a.dp_epsilon;
  c.delta = a.dp_delta;
  c.scale = c.mechanism == Mechanism::kGaussian
                ? c.sensitivity * std::sqrt(2 * std::log(1.25 / c.delta)) / c.epsilon
                : c.sensitivity / c.epsilon;
  // Noise of this size overflows a float32 value or drowns any model: every round would be
  // rejected, so the run stops before it starts.
  if (!(c.scale < kMaxNoiseScale)) {
    throw ConfigError(fmt::format(
        "dp_args: epsilon = {:g} with sensitivity = {:g}{} gives a noise scale of {:g} (at most "
        "{:g} can work): every round's model would be noise or infinite; raise dp_args.epsilon",
        c.epsilon, c.sensitivity,
        c.mechanism == Mechanism::kGaussian ? fmt::format(" and delta = {:g}", c.delta) : "",
        c.scale, kMaxNoiseScale));
  }
  return c;
}

double clip_update(double* delta, size_t n, double bound, Mechanism mechanism) {
  double norm = 0;
  if (mechanism == Mechanism::kGaussian) {
    for (size_t i = 0; i < n; ++i) norm += delta[i] * delta[i];
    norm = std::sqrt(norm);
  } else {
    for (size_t i = 0; i < n; ++i) norm += std::abs(delta[i]);
  }
  if (norm > bound) {
    double s = bound / norm;
    for (size_t i = 0; i < n; ++i) delta[i] *= s;
  }
  return norm;
}

NoiseSource::NoiseSource(std::optional<uint64_t> test_seed) {
  if (sodium_init() < 0) throw Error("libsodium failed to initialise");
  if (test_seed) {
    for (size_t i = 0; i < key_.size(); i += 8) {
      uint64_t w = derive_seed({*test_seed, i});
      std::memcpy(key_.data() + i, &w, 8);
    }
  } else {
    randombytes_buf(key_.data(), key_.size());
  }
}

uint64_t NoiseSource::next_word() {
  if (used_ == words_.size()) {
    words_.assign(1024, 0);
    unsigned char nonce[crypto_stream_chacha20_NONCEBYTES] = {};
    std::memcpy(nonce, &block_, sizeof(block_));
    ++block_;
    crypto_stream_chacha20(reinterpret_cast<unsigned char*>(words_.data()),
                           words_.size() * sizeof(uint64_t), nonce, key_.data());
    used_ = 0;
  }
  return words_[used_++];
}

double NoiseSource::uniform() {
  // 53 random bits, shifted off zero: (0, 1).
  return (static_cast<double>(next_word() >> 11) + 0.5) * 0x1p-53;
}

double NoiseSource::gaussian(double sigma) {
  // Box-Muller; the second value is dropped to keep the code obvious.
  double u1 = uniform(), u2 = uniform();
  return sigma * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
}

double NoiseSource::laplace(double b) {
  double u = uniform() - 0.5;
  return -b * (u < 0 ? -1.0 : 1.0) * std::log(1 - 2 * std::abs(u));
}

void NoiseSource::add_noise(double* values, size_t n, const Calibration& c) {
  for (size_t i = 0; i < n; ++i) {
    values[i] += c.mechanism == Mechanism::kGaussian ? gaussian(c.scale) : laplace(c.scale);
  }
}

double rdp_of_one_release(const Calibration& c, double alpha) {
  if (c.mechanism == Mechanism::kGaussian) {
    double z = c.scale / c.sensitivity;
    return alpha / (2 * z * z);
  }
  double lambda = c.scale / c.sensitivity;
  // log of a sum of two exponentials, kept finite for large alpha / lambda.
  double a = std::log(alpha / (2 * alpha - 1)) + (alpha - 1) / lambda;
  double b = std::log((alpha - 1) / (2 * alpha - 1)) - alpha / lambda;
  double hi = std::max(a, b);
  return (hi + std::log(std::exp(a - hi) + std::exp(b - hi))) / (alpha - 1);
}

double rdp_epsilon(const Calibration& c, int64_t releases, double delta, double alpha) {
  auto at = [&](double order) {
    return static_cast<double>(releases) * rdp_of_one_release(c, order) +
           std::log(1 / delta) / (order - 1);
  };
  if (alpha > 1) return at(alpha);
  static const double kOrders[] = {1.25, 1.5, 1.75, 2,  2.5, 3,  3.5, 4,  4.5, 5,  6,   7,
                                   8,    10,  12,   14, 16,  20, 24,  32, 48,  64, 128, 256};
  double best = std::numeric_limits<double>::infinity();
  for (double order : kOrders) best = std::min(best, at(order));
  return best;
}

}  // namespace fedsilo::dp
