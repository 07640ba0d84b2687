#pragma once
// Shamir's secret sharing of byte strings over GF(2^8) (the AES field), byte by byte: any
// `threshold` shares rebuild the secret, fewer reveal nothing about it. Secure aggregation uses
// it for the seeds that let the server remove a dropped silo's masks (docs/protocol.md).
#include <cstdint>
#include <string>
#include <vector>

namespace fedsilo {

struct ShamirShare {
  uint8_t x = 0;      // the share's point, 1..255 (0 would be the secret itself)
  std::string bytes;  // one byte of y per byte of the secret
};

// Splits `secret` into shares for the points 1..n. Needs 1 <= threshold <= n <= 255. Randomness
// from libsodium.
std::vector<ShamirShare> shamir_split(const std::string& secret, int threshold, int n);

// Rebuilds the secret from at least `threshold` shares with distinct points and equal lengths;
// throws ProtocolError naming what is wrong otherwise. (With fewer than the threshold the result
// is some unrelated string; the caller must know the threshold.)
std::string shamir_combine(const std::vector<ShamirShare>& shares, int threshold);

}  // namespace fedsilo
