#include "protocol/selection.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <unordered_set>

#include "core/seed.h"

namespace fedsilo::cross_silo {
namespace {

// Floyd's sampling: k distinct values of [0, n) in O(k) memory, in draw order.
std::vector<int64_t> sample_without_replacement(int64_t n, int64_t k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> out;
  std::unordered_set<int64_t> taken;
  for (int64_t j = n - k; j < n; ++j) {
    int64_t t = std::uniform_int_distribution<int64_t>(0, j)(rng);
    int64_t pick = taken.count(t) ? j : t;
    taken.insert(pick);
    out.push_back(pick);
  }
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

}  // namespace

std::vector<int64_t> select_silos(const Args& args, int64_t round) {
  std::vector<int64_t> ids(args.client_id_list.begin(), args.client_id_list.end());
  int64_t k = std::min<int64_t>(args.client_num_per_round, ids.size());
  if (k == static_cast<int64_t>(ids.size())) return ids;
  auto picks = sample_without_replacement(
      ids.size(), k,
      derive_seed({static_cast<uint64_t>(args.random_seed), 0x51, static_cast<uint64_t>(round)}));
  std::vector<int64_t> out;
  for (int64_t p : picks) out.push_back(ids[p]);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int64_t> select_data_silos(const Args& args, int64_t round, int64_t count) {
  if (count >= args.client_num_in_total) {
    std::vector<int64_t> all(args.client_num_in_total);
    std::iota(all.begin(), all.end(), 0);
    return all;
  }
  return sample_without_replacement(
      args.client_num_in_total, count,
      derive_seed({static_cast<uint64_t>(args.random_seed), 0xd5, static_cast<uint64_t>(round)}));
}

}  // namespace fedsilo::cross_silo
