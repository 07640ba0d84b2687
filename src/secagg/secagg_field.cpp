// The field side of secure aggregation: parameters, fixed-point quantisation into Z_p, and the
// ChaCha20 mask stream.
#include <sodium.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "fedsilo/error.h"
#include "secagg/secagg_modular.h"
#include "secagg/secure_aggregation.h"

namespace fedsilo::secagg {
namespace {

bool is_prime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d :
       {2ull, 3ull, 5ull, 7ull, 11ull, 13ull, 17ull, 19ull, 23ull, 29ull, 31ull, 37ull}) {
    if (n % d == 0) return n == d;
  }
  // Deterministic Miller-Rabin for 64-bit n with the bases above.
  auto mulmod = [](uint64_t a, uint64_t b, uint64_t m) {
    return static_cast<uint64_t>(static_cast<unsigned __int128>(a) * b % m);
  };
  auto powmod = [&](uint64_t a, uint64_t e, uint64_t m) {
    uint64_t r = 1;
    for (a %= m; e; e >>= 1, a = mulmod(a, a, m)) {
      if (e & 1) r = mulmod(r, a, m);
    }
    return r;
  };
  uint64_t d = n - 1;
  int s = 0;
  while ((d & 1) == 0) d >>= 1, ++s;
  for (uint64_t a :
       {2ull, 3ull, 5ull, 7ull, 11ull, 13ull, 17ull, 19ull, 23ull, 29ull, 31ull, 37ull}) {
    uint64_t x = powmod(a, d, n);
    if (x == 1 || x == n - 1) continue;
    bool composite = true;
    for (int r = 1; r < s && composite; ++r) {
      x = mulmod(x, x, n);
      if (x == n - 1) composite = false;
    }
    if (composite) return false;
  }
  return true;
}

}  // namespace

void check_params(const Params& p) {
  if (p.prime < 3 || p.prime >= (uint64_t(1) << 62) || !is_prime(p.prime)) {
    throw ConfigError("config secure_aggregation_args.prime_number = " + std::to_string(p.prime) +
                      ": must be a prime between 3 and 2^62");
  }
  if (p.precision_bits < 0 || p.precision_bits > 52) {
    throw ConfigError("config secure_aggregation_args.precision_parameter = " +
                      std::to_string(p.precision_bits) + ": must be 0 to 52 (bits)");
  }
}

int threshold_for(int participants) { return participants / 2 + 1; }

std::vector<uint64_t> quantize(const StateDict& state, double weight, int participants,
                               const Params& p) {
  // The sum of `participants` values must stay within (-p/2, p/2) to be read back.
  const double limit = static_cast<double>(p.prime / 2) / std::max(participants, 1);
  const double scale = std::ldexp(weight, p.precision_bits);
  std::vector<uint64_t> out;
  for (const auto& [name, t] : state) {
    auto flat = t.detach().to(torch::kFloat64).contiguous().view(-1);
    const double* d = flat.data_ptr<double>();
    for (int64_t i = 0; i < flat.numel(); ++i) {
      double q = std::nearbyint(d[i] * scale);
      if (!std::isfinite(q) || std::fabs(q) >= limit) {
        throw ProtocolError(
            "secure aggregation: " + name + "[" + std::to_string(i) +
            "] = " + std::to_string(d[i]) + " (x weight " + std::to_string(weight) +
            ") does not fit the field; raise secure_aggregation_args.prime_number or lower "
            "precision_parameter");
      }
      auto m = static_cast<uint64_t>(std::fabs(q));
      out.push_back(q < 0 && m != 0 ? p.prime - m : m);
    }
  }
  return out;
}

StateDict dequantize(const std::vector<uint64_t>& sum, const StateDict& layout, double divisor,
                     const Params& p) {
  StateDict out;
  size_t pos = 0;
  const double scale = std::ldexp(1.0, -p.precision_bits) / divisor;
  for (const auto& [name, t] : layout) {
    auto v = torch::empty({t.numel()}, torch::kFloat64);
    double* d = v.data_ptr<double>();
    for (int64_t i = 0; i < t.numel(); ++i, ++pos) {
      if (pos >= sum.size()) throw ProtocolError("secure aggregation: the sum is too short");
      uint64_t x = sum[pos];
      double c = x > p.prime / 2 ? -static_cast<double>(p.prime - x) : static_cast<double>(x);
      d[i] = c * scale;
    }
    out.emplace_back(name, v.to(t.scalar_type()).view(t.sizes()));
  }
  if (pos != sum.size()) throw ProtocolError("secure aggregation: the sum is too long");
  return out;
}

void apply_mask(std::vector<uint64_t>& v, const Key& seed, bool subtract, const Params& p) {
  // Rejection sampling keeps each mask element uniform in Z_p (a plain modulo would not be).
  int bits = 64 - __builtin_clzll(p.prime - 1);
  uint64_t keep = bits >= 64 ? ~uint64_t(0) : (uint64_t(1) << bits) - 1;
  constexpr size_t kWords = 4096;  // 32 KiB of stream at a time
  std::vector<uint64_t> buf(kWords);
  std::array<unsigned char, crypto_stream_chacha20_ietf_NONCEBYTES> nonce{};
  uint32_t block = 0;
  size_t used = kWords;
  for (auto& x : v) {
    uint64_t r;
    do {
      if (used == kWords) {
        std::fill(buf.begin(), buf.end(), 0);
        auto* bytes = reinterpret_cast<unsigned char*>(buf.data());
        crypto_stream_chacha20_ietf_xor_ic(bytes, bytes, kWords * 8, nonce.data(), block,
                                           seed.data());
        block += kWords * 8 / 64;
        used = 0;
      }
      r = buf[used++] & keep;
    } while (r >= p.prime);
    x = subtract ? sub_mod(x, r, p.prime) : add_mod(x, r, p.prime);
  }
}

}  // namespace fedsilo::secagg
