// The StepHooks of the built-in rules (fedsilo/trainer.h).
#include <torch/torch.h>

#include <algorithm>

#include "fedsilo/error.h"
#include "fedsilo/trainer.h"

namespace fedsilo {
namespace {

void add_to_gradients(const std::vector<torch::Tensor>& params,
                      const std::vector<torch::Tensor>& add) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    auto p = params[i];
    if (p.grad().defined()) {
      p.mutable_grad().add_(add[i]);
    } else {
      p.mutable_grad() = add[i].clone();  // a parameter no loss reached
    }
  }
}

class ProximalTerm : public StepHook {
 public:
  explicit ProximalTerm(double mu) : mu_(mu) {}
  void begin(torch::nn::Module& module, const TrainContext&) override {
    anchor_.clear();
    if (mu_ <= 0) return;
    for (const auto& p : module.parameters()) anchor_.push_back(p.detach().clone());
  }
  void adjust(torch::nn::Module& module) override {
    if (mu_ <= 0) return;
    auto params = module.parameters();
    std::vector<torch::Tensor> prox;
    for (size_t i = 0; i < params.size(); ++i)
      prox.push_back((params[i].detach() - anchor_[i]) * mu_);
    add_to_gradients(params, prox);
  }

 private:
  double mu_;
  std::vector<torch::Tensor> anchor_;  // the round's global parameters
};

class ControlVariate : public StepHook {
 public:
  void begin(torch::nn::Module& module, const TrainContext& ctx) override {
    correction_.clear();
    if (!ctx.correction || ctx.correction->empty()) return;
    // Per parameter, in parameter order, on the parameters' device and dtype.
    const auto& c = *ctx.correction;
    for (const auto& p : module.named_parameters()) {
      auto it = std::find_if(c.begin(), c.end(), [&](const auto& e) { return e.first == p.key(); });
      if (it == c.end() || !it->second.sizes().equals(p.value().sizes()))
        throw ProtocolError("SCAFFOLD correction: no tensor of parameter " + p.key() + "'s shape");
      correction_.push_back(it->second.to(p.value().options()));
    }
  }
  void adjust(torch::nn::Module& module) override {
    if (!correction_.empty()) add_to_gradients(module.parameters(), correction_);
  }

 private:
  std::vector<torch::Tensor> correction_;
};

}  // namespace

std::unique_ptr<StepHook> proximal_term_hook(double mu) {
  return std::make_unique<ProximalTerm>(mu);
}

std::unique_ptr<StepHook> control_variate_hook() { return std::make_unique<ControlVariate>(); }

}  // namespace fedsilo
