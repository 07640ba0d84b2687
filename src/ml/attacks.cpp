#include "ml/attacks.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/seed.h"

namespace fedsilo::attacks {
namespace {
constexpr uint64_t kAttackSalt = 0xa77ac4ULL;
}

std::vector<int> attacking_silos(const Args& a) {
  if (!a.enable_attack) return {};
  auto ids = a.client_id_list;
  int64_t k = a.attack_byzantine_client_num;
  if (a.attack_type == "label_flipping" && k < 1) {
    k = std::max<int64_t>(
        1, std::llround(a.ratio_of_poisoned_client * static_cast<double>(ids.size())));
  }
  k = std::min<int64_t>(k, static_cast<int64_t>(ids.size()));
  std::mt19937_64 rng(derive_seed({static_cast<uint64_t>(a.random_seed), kAttackSalt}));
  std::shuffle(ids.begin(), ids.end(), rng);
  ids.resize(static_cast<size_t>(k));
  std::sort(ids.begin(), ids.end());
  return ids;
}

bool is_attacker(const Args& a, int64_t silo) {
  auto ids = attacking_silos(a);
  return std::find(ids.begin(), ids.end(), silo) != ids.end();
}

std::string describe(const Args& a) {
  return a.attack_type == "byzantine" ? a.attack_type + ", attack_mode " + a.attack_mode
                                      : a.attack_type;
}

bool replaces_model(const Args& a, int64_t silo) {
  return a.attack_type == "byzantine" && is_attacker(a, silo);
}

TensorData flip_labels(const Args& a, const TensorData& data) {
  TensorData out = data;
  auto original = data.y;
  out.y = data.y.clone();
  for (size_t k = 0; k < a.original_class_list.size(); ++k) {
    out.y.masked_fill_(original.eq(a.original_class_list[k]), a.target_class_list[k]);
  }
  return out;
}

TensorData data_to_train_on(const Args& a, int64_t silo, const TensorData& data) {
  if (a.attack_type != "label_flipping" || !is_attacker(a, silo)) return data;
  return flip_labels(a, data);
}

void corrupt_model(const Args& a, int64_t round, int64_t silo, const StateDict& global,
                   StateDict& model) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(
      derive_seed({static_cast<uint64_t>(a.random_seed), kAttackSalt, static_cast<uint64_t>(round),
                   static_cast<uint64_t>(silo)}));
  for (size_t k = 0; k < model.size(); ++k) {
    auto& t = model[k].second;
    if (!t.is_floating_point()) continue;
    if (a.attack_mode == "zero") {
      t.zero_();
    } else if (a.attack_mode == "random") {
      t.copy_(torch::rand(t.sizes(), gen, torch::TensorOptions().dtype(t.scalar_type())));
    } else {  // flip
      const auto& g = global[k].second;
      t.copy_(g.to(t.device()) * 2 - t);
    }
  }
}

}  // namespace fedsilo::attacks
