#include <torch/torch.h>

#include <mutex>

#include "core/config_choices.h"
#include "fedsilo/error.h"
#include "fedsilo/model.h"

namespace fedsilo::model {
namespace {

struct LogisticRegressionImpl : torch::nn::Module {
  LogisticRegressionImpl(int64_t in, int64_t out)
      : linear(register_module("linear", torch::nn::Linear(in, out))) {}
  torch::Tensor forward(torch::Tensor x) { return linear(x.reshape({x.size(0), -1})); }
  torch::nn::Linear linear;
};
TORCH_MODULE(LogisticRegression);

// McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from Decentralized
// Data": two 5x5 conv layers (32, 64 channels) each followed by 2x2 max pooling, a 512-unit
// fully connected layer with ReLU, and a linear output layer.
struct CnnOriginalFedAvgImpl : torch::nn::Module {
  explicit CnnOriginalFedAvgImpl(int64_t out)
      : conv1(register_module("conv2d_1",
                              torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 5).padding(2)))),
        conv2(register_module("conv2d_2",
                              torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 5).padding(2)))),
        fc1(register_module("linear_1", torch::nn::Linear(7 * 7 * 64, 512))),
        fc2(register_module("linear_2", torch::nn::Linear(512, out))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = x.reshape({x.size(0), 1, 28, 28});
    x = torch::max_pool2d(torch::relu(conv1(x)), 2);
    x = torch::max_pool2d(torch::relu(conv2(x)), 2);
    x = torch::relu(fc1(x.flatten(1)));
    return fc2(x);
  }
  torch::nn::Conv2d conv1, conv2;
  torch::nn::Linear fc1, fc2;
};
TORCH_MODULE(CnnOriginalFedAvg);

// Seeding and drawing the initial weights must not interleave with another thread's.
std::mutex& seed_mutex() {
  static std::mutex mu;
  return mu;
}

}  // namespace

Model create(const Args& args, int64_t output_dim, int64_t input_dim) {
  if (output_dim < 1) throw ConfigError("model::create: output_dim must be >= 1");
  auto factory = registry::models().get(args.model);
  std::lock_guard<std::mutex> lock(seed_mutex());
  torch::manual_seed(args.random_seed);
  return factory(args, output_dim, input_dim);
}

}  // namespace fedsilo::model

namespace fedsilo::registry {

Registry<ModelFactory>& models() {
  static Registry<ModelFactory>* r = [] {
    auto* reg = new Registry<ModelFactory>("model_args.model");
    reg->add("lr", [](const Args&, int64_t out, int64_t in) {
      return Model(model::LogisticRegression(in, out));
    });
    reg->add("cnn", [](const Args&, int64_t out, int64_t in) {
      if (in != 28 * 28) {
        throw ConfigError(
            "config model_args.model = cnn: expects 28x28 single-channel inputs, the data has " +
            std::to_string(in) + " features");
      }
      return Model(model::CnnOriginalFedAvg(out));
    });
    return reg;
  }();
  return *r;
}

}  // namespace fedsilo::registry

namespace fedsilo::model {
namespace {
// model_args.model is checked against this registry when a config is loaded.
[[maybe_unused]] const bool kChoicesRegistered =
    (register_config_choices("model_args.model", [] { return registry::models().names(); }), true);
}  // namespace
}  // namespace fedsilo::model
