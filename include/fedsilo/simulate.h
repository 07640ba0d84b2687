#pragma once
// The server and every silo of client_id_list in one process, through the same state machines
// as the distributed mode, over an in-process transport and object store.
#include <nlohmann/json.hpp>
#include <string>

#include <functional>

#include "fedsilo/aggregator.h"
#include "fedsilo/args.h"
#include "fedsilo/cross_silo.h"
#include "fedsilo/dataset.h"
#include "fedsilo/model.h"
#include "fedsilo/trainer.h"

namespace fedsilo {

struct RunSummary {
  std::string output_dir;        // holds metrics.jsonl and final_model.safetensors
  nlohmann::json final_metrics;  // test_acc, test_loss, train_acc, train_loss of the last round
  double wall_s = 0;
};

// The components a simulated run uses; each empty one is what the distributed mode would use:
// the registries' entries for train_args.federated_optimizer, and accuracy and loss on the data
// set's global test and train data. The same factories Client::with_trainer and
// Server::with_aggregator / with_evaluator take.
struct SimulateOptions {
  TrainerFactory trainer;
  AggregatorFactory aggregator;
  cross_silo::Evaluator evaluator;
};

// Sets torch's intra-op thread count to device_args.num_threads (1 keeps runs bit-reproducible).
RunSummary simulate(const Args& args);

// The same with your own data set and model: `make_model` is called once for the server and
// once per silo (each must build the same architecture).
RunSummary simulate(const Args& args, const FederatedDataset& dataset,
                    const std::function<Model()>& make_model, SimulateOptions options = {});

}  // namespace fedsilo
