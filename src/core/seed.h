#pragma once
// Derives independent, reproducible seeds from (random_seed, round, silo, ...), so that every
// random choice depends only on the config and its position in the run, never on timing.
#include <cstdint>
#include <initializer_list>

namespace fedsilo {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t derive_seed(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x6a09e667f3bcc908ULL;
  for (uint64_t p : parts) h = splitmix64(h ^ splitmix64(p));
  return h;
}

}  // namespace fedsilo
