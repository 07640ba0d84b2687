#pragma once
// Local training: the part of a round that runs inside a silo. Replace ClassificationTrainer
// with your own Trainer to change the local loop without touching the protocol.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "fedsilo/args.h"
#include "fedsilo/dataset.h"
#include "fedsilo/model.h"
#include "fedsilo/registry.h"
#include "fedsilo/state_dict.h"

namespace torch::optim {
class Optimizer;
}

namespace fedsilo {

struct TrainContext {
  int64_t round = 0;
  int64_t silo_id = 0;          // client rank (1..N)
  int64_t data_silo_index = 0;  // which partition this round trains on
  int64_t trainer_rank = 0;     // rank inside the silo (0 = master); set by the trainer
  int64_t n_trainers = 1;       // trainers of the silo; set by the trainer
  // SCAFFOLD's correction c - c_i for this round's data silo, in the model's layout, which a
  // trainer adds to every step's (silo-wide) gradient; null when the server sends none. A
  // custom Trainer used with SCAFFOLD must apply it.
  const StateDict* correction = nullptr;
};

struct TrainResult {
  int64_t num_samples = 0;  // samples the silo trained on (all its trainers), the FedAvg weight
  double loss = 0;          // mean training loss of the last epoch
  double accuracy = 0;      // training accuracy of the last epoch
  int64_t local_steps = 0;  // optimizer steps taken (FedNova normalises by them)
};

// Averages gradients across the trainers of one silo after each backward pass. The local
// gradients are sums over `local_samples`; after sync they must be means over all trainers'
// samples of that step. Returns the silo-wide sample count of the step.
class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual int64_t sync(torch::nn::Module& module, int64_t local_samples) = 0;
  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
};

class Trainer {
 public:
  virtual ~Trainer() = default;
  virtual TrainResult train(Model& model, const TensorData& data, const TrainContext& ctx) = 0;
};

struct EvalResult {
  double accuracy = 0;
  double loss = 0;
  int64_t num_samples = 0;
};

// A change a rule makes to every local step's gradient (FedProx's proximal term, SCAFFOLD's
// correction), registered with the rule's trainer rather than asked for by its name.
class StepHook {
 public:
  virtual ~StepHook() = default;
  // Before the round's first step, with the model as the round starts.
  virtual void begin(torch::nn::Module& module, const TrainContext& ctx) = 0;
  // After the step's silo-wide mean gradient is in place, before the optimizer steps.
  virtual void adjust(torch::nn::Module& module) = 0;
};

// FedProx (Li et al. 2020): the local objective adds (mu / 2) |w - w_global|^2, whose gradient
// mu (w - w_global) joins each step's gradient.
std::unique_ptr<StepHook> proximal_term_hook(double mu);
// SCAFFOLD (Karimireddy et al. 2020): each step's gradient g becomes g + (c - c_i), the
// round's TrainContext::correction.
std::unique_ptr<StepHook> control_variate_hook();

// Cross-entropy classification with SGD (lr, momentum, weight_decay) or Adam, per-epoch
// reshuffle seeded from (random_seed, round, data silo, epoch), batches split over the silo's
// trainers with split_for_dist_trainers. `sync` may be null (one trainer); `hooks` adjust each
// step's gradient, in order.
class ClassificationTrainer : public Trainer {
 public:
  explicit ClassificationTrainer(const Args& args, GradientSync* sync = nullptr,
                                 std::vector<std::unique_ptr<StepHook>> hooks = {});
  TrainResult train(Model& model, const TensorData& data, const TrainContext& ctx) override;

 private:
  Args args_;
  GradientSync* sync_;
  std::vector<std::unique_ptr<StepHook>> hooks_;
};

// train_args.federated_optimizer, silo side: the local trainer of one silo process; `sync`
// averages gradients across the silo's trainers (null with one trainer).
using TrainerFactory =
    std::function<std::unique_ptr<Trainer>(const Args& args, GradientSync* sync)>;

// train_args.client_optimizer: the optimizer a trainer steps with.
using OptimizerFactory = std::function<std::unique_ptr<torch::optim::Optimizer>(
    const Args& args, std::vector<torch::Tensor> parameters)>;

namespace registry {
// Built in: "FedAvg" (ClassificationTrainer), "FedProx" and "SCAFFOLD" (the same with their
// StepHook).
Registry<TrainerFactory>& trainers();
// Built in: "sgd", "adam".
Registry<OptimizerFactory>& client_optimizers();
// The trainer for `federated_optimizer`: its own entry, or FedAvg's when it has none (an
// optimizer that only changes the server's rule trains like FedAvg in the silo).
TrainerFactory trainer_for(const std::string& federated_optimizer);
}  // namespace registry

// Accuracy and mean cross-entropy over a whole data set, in eval mode without gradients.
EvalResult evaluate(Model& model, const TensorData& data, int64_t batch_size = 4096);

}  // namespace fedsilo
