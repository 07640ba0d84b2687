#pragma once
// The five-line API's Client and Server (FedML's fedml.cross_silo.hierarchical), over MQTT and
// an object store. Both take the user's data set and model; the trainer and the aggregator can
// be replaced without touching the protocol.
#include <torch/types.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "fedsilo/aggregator.h"
#include "fedsilo/args.h"
#include "fedsilo/dataset.h"
#include "fedsilo/exit_code.h"
#include "fedsilo/model.h"
#include "fedsilo/trainer.h"

namespace fedsilo::cross_silo {

// Server-side evaluation of the global model every frequency_of_the_test rounds; returns
// metrics such as {"test_acc": ..., "test_loss": ...}. The default evaluates on the data set's
// global test and train data.
using Evaluator = std::function<nlohmann::json(Model& model, int64_t round)>;

}  // namespace fedsilo::cross_silo

namespace fedsilo::cross_silo::hierarchical {

// Builds the local trainer of one silo process; `sync` averages gradients across the silo's
// trainers (null when the silo has one trainer) and must be called after each backward pass.
// The default is registry::trainer_for(train_args.federated_optimizer).
using TrainerFactory = fedsilo::TrainerFactory;
using Evaluator = cross_silo::Evaluator;

class Client {
 public:
  Client(const Args& args, torch::Device device, FederatedDataset dataset, Model model);
  Client& with_trainer(TrainerFactory factory);
  // With n_node_in_silo x n_proc_per_node > 1 this process becomes the node's launcher and
  // starts its trainers as copies of this program (same command line); a copy trains. Returns
  // the exit code (ExitCode in exit_code.h; docs/api.md). While it runs, SIGINT and SIGTERM
  // end the run cleanly (the previous handlers are restored on return), and torch's intra-op
  // thread count is set to device_args.num_threads (results are bit-reproducible with 1).
  int run();

 private:
  Args args_;
  torch::Device device_;
  FederatedDataset dataset_;
  Model model_;
  TrainerFactory trainer_;
};

class Server {
 public:
  Server(const Args& args, torch::Device device, FederatedDataset dataset, Model model);
  Server& with_aggregator(std::unique_ptr<Aggregator> aggregator);
  Server& with_evaluator(Evaluator evaluator);
  // Returns the exit code; signals and threads as for Client::run().
  int run();

 private:
  Args args_;
  torch::Device device_;
  FederatedDataset dataset_;
  Model model_;
  std::unique_ptr<Aggregator> aggregator_;
  Evaluator evaluator_;
};

}  // namespace fedsilo::cross_silo::hierarchical
