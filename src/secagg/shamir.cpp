#include "secagg/shamir.h"

#include <sodium.h>

#include <array>
#include <set>

#include "fedsilo/error.h"

namespace fedsilo {
namespace {

// log/exp tables of GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1 and generator 3.
struct Tables {
  std::array<uint8_t, 512> exp{};
  std::array<uint8_t, 256> log{};
  Tables() {
    uint8_t v = 1;
    for (int i = 0; i < 255; ++i) {
      exp[i] = exp[i + 255] = v;
      log[v] = static_cast<uint8_t>(i);
      // v *= 3: v ^ xtime(v)
      uint8_t x2 = static_cast<uint8_t>((v << 1) ^ ((v & 0x80) ? 0x1b : 0));
      v = static_cast<uint8_t>(v ^ x2);
    }
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}

uint8_t mul(uint8_t a, uint8_t b) {
  if (a == 0 || b == 0) return 0;
  const auto& t = tables();
  return t.exp[t.log[a] + t.log[b]];
}

uint8_t div(uint8_t a, uint8_t b) {  // b != 0
  if (a == 0) return 0;
  const auto& t = tables();
  return t.exp[t.log[a] + 255 - t.log[b]];
}

}  // namespace

std::vector<ShamirShare> shamir_split(const std::string& secret, int threshold, int n) {
  if (threshold < 1 || n < threshold || n > 255) {
    throw Error("shamir: need 1 <= threshold (" + std::to_string(threshold) + ") <= shares (" +
                std::to_string(n) + ") <= 255");
  }
  if (sodium_init() < 0) throw Error("libsodium could not be initialised");
  std::vector<ShamirShare> shares(n);
  for (int i = 0; i < n; ++i) {
    shares[i].x = static_cast<uint8_t>(i + 1);
    shares[i].bytes.resize(secret.size());
  }
  std::vector<uint8_t> coef(threshold);
  for (size_t b = 0; b < secret.size(); ++b) {
    coef[0] = static_cast<uint8_t>(secret[b]);
    if (threshold > 1) randombytes_buf(coef.data() + 1, threshold - 1);
    for (auto& s : shares) {  // Horner's rule at x
      uint8_t y = 0;
      for (int k = threshold - 1; k >= 0; --k) y = static_cast<uint8_t>(mul(y, s.x) ^ coef[k]);
      s.bytes[b] = static_cast<char>(y);
    }
  }
  sodium_memzero(coef.data(), coef.size());
  return shares;
}

std::string shamir_combine(const std::vector<ShamirShare>& shares, int threshold) {
  if (threshold < 1 || static_cast<int>(shares.size()) < threshold) {
    throw ProtocolError("shamir: " + std::to_string(shares.size()) + " shares, " +
                        std::to_string(threshold) + " needed");
  }
  std::set<uint8_t> points;
  for (int i = 0; i < threshold; ++i) {
    const auto& s = shares[i];
    if (s.x == 0 || !points.insert(s.x).second)
      throw ProtocolError("shamir: share points must be distinct and non-zero");
    if (s.bytes.size() != shares[0].bytes.size())
      throw ProtocolError("shamir: shares of different lengths");
  }
  // Lagrange interpolation at 0 over the first `threshold` shares (subtraction is xor).
  std::vector<uint8_t> basis(threshold);
  for (int i = 0; i < threshold; ++i) {
    uint8_t num = 1, den = 1;
    for (int j = 0; j < threshold; ++j) {
      if (j == i) continue;
      num = mul(num, shares[j].x);
      den = mul(den, static_cast<uint8_t>(shares[i].x ^ shares[j].x));
    }
    basis[i] = div(num, den);
  }
  std::string secret(shares[0].bytes.size(), '\0');
  for (size_t b = 0; b < secret.size(); ++b) {
    uint8_t y = 0;
    for (int i = 0; i < threshold; ++i)
      y ^= mul(static_cast<uint8_t>(shares[i].bytes[b]), basis[i]);
    secret[b] = static_cast<char>(y);
  }
  return secret;
}

}  // namespace fedsilo
