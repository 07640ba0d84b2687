#pragma once
// fedsilo's public API, in three levels (docs/api.md):
//
// One line:    return fedsilo::run_hierarchical_cross_silo_client(argc, argv);
//
// Five lines:  auto args = fedsilo::init(argc, argv);
//              auto device = fedsilo::device::get_device(args);
//              auto [dataset, output_dim] = fedsilo::data::load_cross_silo(args);
//              auto model = fedsilo::model::create(args, output_dim);
//              return fedsilo::cross_silo::hierarchical::Client(args, device, dataset,
//              model).run();
//
// Custom:      your own FederatedDataset and torch::nn::Module (and Trainer, Aggregator).
#include <torch/types.h>

#include "fedsilo/aggregator.h"
#include "fedsilo/args.h"
#include "fedsilo/cross_silo.h"
#include "fedsilo/dataset.h"
#include "fedsilo/error.h"
#include "fedsilo/exit_code.h"
#include "fedsilo/model.h"
#include "fedsilo/provision.h"
#include "fedsilo/registry.h"
#include "fedsilo/simulate.h"
#include "fedsilo/state_dict.h"
#include "fedsilo/trainer.h"

namespace fedsilo {

// FedML's command line: --cf fedml_config.yaml --rank N [--run_id ID] [--node_rank R]
// [--set section.key=value ...]. Loads and checks the config and sets up logging (console and
// <log_file_dir>/run_<run_id>/). Throws ConfigError; --help prints usage and exits 0.
Args init(int argc, char** argv);

// The one-line API: init + load data + create model + Server / Client. They print errors as
// one line and return the process exit code.
int run_hierarchical_cross_silo_server(int argc, char** argv);
int run_hierarchical_cross_silo_client(int argc, char** argv);
// The server and every silo in one process (fedsilo simulate).
int run_simulation(int argc, char** argv);

namespace device {
// CPU, or when using_gpu is set and CUDA is available (a log line when it is not) the GPU that
// device_args.gpu_mapping_file / gpu_mapping_key give this process (FedML's format: the server
// is process 0, a silo's trainers 0..n-1), or without a mapping GPU (k mod count) for process k
// of the machine. Throws ConfigError naming the file when the mapping is unusable.
torch::Device get_device(const Args& args);
}  // namespace device

}  // namespace fedsilo
