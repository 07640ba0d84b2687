#include <torch/torch.h>

#include <random>

#include "core/log.h"
#include "core/seed.h"

#include "fedsilo/error.h"
#include "fedsilo/trainer.h"

namespace fedsilo {
namespace {

// Batches go where the model is (the data stays on the CPU).
torch::Device device_of(const torch::nn::Module& module) {
  auto params = module.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

// Batches go to the model's device and, for a bfloat16 or float16 model, its dtype.
torch::TensorOptions input_options_of(const torch::nn::Module& module) {
  auto params = module.parameters();
  auto o = torch::TensorOptions().device(device_of(module)).dtype(torch::kFloat32);
  if (!params.empty() && params.front().is_floating_point()) o = o.dtype(params.front().dtype());
  if (o.dtype() == torch::kFloat16 && o.device().is_cpu()) {
    // Debian's libtorch has no float16 matrix multiply on the CPU: say so before the first
    // batch instead of failing inside it.
    throw ConfigError(
        "ClassificationTrainer: a float16 model cannot train on the CPU with this libtorch (no "
        "float16 matrix multiply there); train it on a GPU (device_args.using_gpu: true) or use "
        "bfloat16");
  }
  return o;
}

torch::Tensor epoch_order(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  return torch::tensor(order, torch::kInt64);
}

}  // namespace

ClassificationTrainer::ClassificationTrainer(const Args& args, GradientSync* sync,
                                             std::vector<std::unique_ptr<StepHook>> hooks)
    : args_(args), sync_(sync), hooks_(std::move(hooks)) {}

TrainResult ClassificationTrainer::train(Model& model, const TensorData& data,
                                         const TrainContext& round) {
  TrainContext ctx = round;
  ctx.trainer_rank = sync_ ? sync_->rank() : 0;
  ctx.n_trainers = sync_ ? sync_->world_size() : 1;
  auto log = logging::role_logger("Client", ctx.silo_id);

  auto& module = model.module();
  module.train();
  auto device = device_of(module);
  auto input = input_options_of(module);
  auto optimizer =
      registry::client_optimizers().get(args_.client_optimizer)(args_, module.parameters());
  for (auto& hook : hooks_) hook->begin(module, ctx);
  TrainResult result;
  result.num_samples = data.size();
  for (int64_t epoch = 0; epoch < args_.epochs; ++epoch) {
    auto order = epoch_order(
        data.size(),
        derive_seed({static_cast<uint64_t>(args_.random_seed), static_cast<uint64_t>(ctx.round),
                     static_cast<uint64_t>(ctx.data_silo_index), static_cast<uint64_t>(epoch)}));
    auto batches =
        data::split_for_dist_trainers(order, args_.batch_size, ctx.n_trainers)[ctx.trainer_rank];
    int64_t local_total = 0;
    for (const auto& b : batches) local_total += b.size(0);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    for (size_t step = 0; step < batches.size(); ++step) {
      const auto& idx = batches[step];
      int64_t n = idx.size(0);
      optimizer->zero_grad();
      if (n > 0) {
        auto x = data::to_model_input(data.x.index_select(0, idx)).to(input);
        auto y = data.y.index_select(0, idx).to(device);
        auto out = model.forward(x);
        // A sum, not a mean: the step's mean is taken over the whole silo's batch below.
        auto loss = torch::nn::functional::cross_entropy(
            out, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
        loss.backward();
        loss_sum += loss.item<double>();
        correct += out.argmax(1).eq(y).sum().item<int64_t>();
        seen += n;
      }
      int64_t step_total = sync_ ? sync_->sync(module, n) : n;
      if (step_total == 0) continue;
      if (!sync_) {
        torch::NoGradGuard g;
        for (auto& p : module.parameters()) {
          if (p.grad().defined()) p.grad().div_(static_cast<double>(step_total));
        }
      }
      for (auto& hook : hooks_) hook->adjust(module);
      optimizer->step();
      ++result.local_steps;
      // At most ~10 progress lines per epoch, as the seed prints them, whatever the batch count.
      size_t every = (batches.size() + 9) / 10;
      if ((step + 1) % every != 0 && step + 1 != batches.size()) continue;
      FS_LOG_INFO(log, "Update Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}", epoch, seen, local_total,
                  local_total ? 100.0 * seen / local_total : 100.0, n ? loss_sum / seen : 0.0);
    }
    result.loss = seen ? loss_sum / seen : 0.0;
    result.accuracy = seen ? static_cast<double>(correct) / seen : 0.0;
    FS_LOG_INFO(log, "Client Index = {}\tEpoch: {}\tLoss: {:.6f}\tAcc: {:.4f}\t({} samples)",
                ctx.data_silo_index, epoch, result.loss, result.accuracy, seen);
  }
  return result;
}

EvalResult evaluate(Model& model, const TensorData& data, int64_t batch_size) {
  EvalResult r;
  auto& module = model.module();
  auto device = device_of(module);
  auto input = input_options_of(module);
  bool was_training = module.is_training();
  module.eval();
  torch::NoGradGuard no_grad;
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t begin = 0; begin < data.size(); begin += batch_size) {
    int64_t end = std::min(data.size(), begin + batch_size);
    auto x = data::to_model_input(data.x.slice(0, begin, end)).to(input);
    auto y = data.y.slice(0, begin, end).to(device);
    auto out = model.forward(x);
    loss_sum += torch::nn::functional::cross_entropy(
                    out, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += out.argmax(1).eq(y).sum().item<int64_t>();
  }
  module.train(was_training);
  r.num_samples = data.size();
  if (r.num_samples) {
    r.accuracy = static_cast<double>(correct) / r.num_samples;
    r.loss = loss_sum / r.num_samples;
  }
  return r;
}

}  // namespace fedsilo
