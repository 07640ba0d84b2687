#pragma once
// Addition in Z_p for p < 2^62, shared by the secure-aggregation sources.
#include <cstdint>

namespace fedsilo::secagg {

inline uint64_t add_mod(uint64_t a, uint64_t b, uint64_t p) {  // a, b < p < 2^62: no overflow
  uint64_t s = a + b;
  return s >= p ? s - p : s;
}

inline uint64_t sub_mod(uint64_t a, uint64_t b, uint64_t p) { return a >= b ? a - b : a + p - b; }

}  // namespace fedsilo::secagg
