#include "fedsilo/state_dict.h"

#include <torch/torch.h>

#include "fedsilo/error.h"

namespace fedsilo {

StateDict state_of(const torch::nn::Module& module) {
  StateDict out;
  for (const auto& p : module.named_parameters(/*recurse=*/true))
    out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/true)) out.emplace_back(b.key(), b.value());
  return out;
}

StateDict clone_state(const StateDict& state) {
  StateDict out;
  out.reserve(state.size());
  for (const auto& [name, t] : state)
    out.emplace_back(name, t.detach().to(torch::kCPU).contiguous().clone());
  return out;
}

StateDict layout_of(const StateDict& state) {
  StateDict out;
  out.reserve(state.size());
  for (const auto& [name, t] : state)
    out.emplace_back(name, torch::empty(t.sizes(), t.options().device(torch::kMeta)));
  return out;
}

void check_same_layout(const StateDict& expected, const StateDict& got, const std::string& what) {
  auto shape = [](const torch::Tensor& t) { return c10::str(t.sizes()); };
  for (size_t i = 0; i < std::max(expected.size(), got.size()); ++i) {
    if (i >= got.size())
      throw ProtocolError(what + ": tensor " + expected[i].first + " is missing");
    if (i >= expected.size())
      throw ProtocolError(what + ": unexpected extra tensor " + got[i].first);
    const auto& [en, et] = expected[i];
    const auto& [gn, gt] = got[i];
    if (en != gn)
      throw ProtocolError(what + ": tensor " + std::to_string(i) + " is " + gn + ", expected " +
                          en);
    if (et.scalar_type() != gt.scalar_type()) {
      throw ProtocolError(what + ": tensor " + en + " has dtype " +
                          std::string(c10::toString(gt.scalar_type())) + ", expected " +
                          c10::toString(et.scalar_type()));
    }
    if (!et.sizes().equals(gt.sizes())) {
      throw ProtocolError(what + ": tensor " + en + " has shape " + shape(gt) + ", expected " +
                          shape(et));
    }
  }
}

void load_state(torch::nn::Module& module, const StateDict& state, const std::string& what) {
  StateDict own = state_of(module);
  check_same_layout(own, state, what);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < own.size(); ++i) own[i].second.copy_(state[i].second);
}

}  // namespace fedsilo
