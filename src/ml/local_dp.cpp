#include "ml/local_dp.h"

#include <torch/torch.h>

namespace fedsilo::dp {

bool is_local(const Args& a) { return a.enable_dp && a.dp_solution_type == "ldp"; }

double privatize_update(const Calibration& c, NoiseSource& noise, const StateDict& global,
                        StateDict& model) {
  torch::NoGradGuard no_grad;
  std::vector<size_t> floating;
  std::vector<double> delta;
  std::vector<size_t> offsets{0};
  for (size_t k = 0; k < model.size(); ++k) {
    if (!model[k].second.is_floating_point()) continue;
    auto d = (model[k].second.to(torch::kCPU).to(torch::kFloat64) -
              global[k].second.to(torch::kCPU).to(torch::kFloat64))
                 .contiguous();
    delta.insert(delta.end(), d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
    floating.push_back(k);
    offsets.push_back(delta.size());
  }
  double norm = clip_update(delta.data(), delta.size(), c.clip, c.mechanism);
  noise.add_noise(delta.data(), delta.size(), c);
  for (size_t j = 0; j < floating.size(); ++j) {
    auto& t = model[floating[j]].second;
    const auto& g = global[floating[j]].second;
    auto d = torch::from_blob(delta.data() + offsets[j], t.sizes(), torch::kFloat64);
    t.copy_((g.to(torch::kCPU).to(torch::kFloat64) + d).to(t.scalar_type()).to(t.device()));
  }
  return norm;
}

}  // namespace fedsilo::dp
