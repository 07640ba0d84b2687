#pragma once
// A model is any torch::nn::Module with `Tensor forward(Tensor)`. Model type-erases it (like
// torch::nn::AnyModule) and gives the framework what it needs: forward, and the module for
// parameters and buffers.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>

#include <memory>
#include <string>

#include "fedsilo/args.h"
#include "fedsilo/registry.h"

namespace fedsilo {

class Model {
 public:
  Model() = default;
  // Accepts a module holder (torch::nn::Linear, a TORCH_MODULE type) or a std::shared_ptr<M>.
  template <typename M>
  Model(M module) : any_(std::move(module)) {}  // NOLINT: implicit on purpose

  torch::Tensor forward(const torch::Tensor& x) { return any_.forward(x); }
  torch::nn::Module& module() const { return *any_.ptr(); }
  std::shared_ptr<torch::nn::Module> ptr() const { return any_.ptr(); }
  bool defined() const { return !any_.is_empty(); }

 private:
  torch::nn::AnyModule any_;
};

// model_args.model: builds the model for `output_dim` classes and `input_dim` features per
// sample. Parameters must be drawn after torch::manual_seed(args.random_seed) (model::create
// seeds first), so every process builds the same starting model.
using ModelFactory = std::function<Model(const Args& args, int64_t output_dim, int64_t input_dim)>;

namespace registry {
// Built in: "lr", "cnn".
Registry<ModelFactory>& models();
}  // namespace registry

namespace model {

// Looks args.model up in registry::models(): "lr" (multinomial logistic regression; Linear ->
// logits, softmax lives in the loss) and "cnn" (the FedAvg paper's MNIST CNN). Parameters are
// initialised from args.random_seed, so every process creates the same starting model. `input_dim`
// is the number of features per sample (784 for MNIST). Throws ConfigError for an unknown model
// name.
Model create(const Args& args, int64_t output_dim, int64_t input_dim = 28 * 28);

}  // namespace model
}  // namespace fedsilo
