#pragma once
// What FedML's 8-tuple holds, with names. Inputs may be uint8 (images, scaled to [0, 1] when a
// batch is formed) or floating point; labels are int64 class ids.
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fedsilo/args.h"

namespace fedsilo {

struct TensorData {
  torch::Tensor x;  // [N, ...features]
  torch::Tensor y;  // [N] int64
  int64_t size() const { return y.defined() ? y.size(0) : 0; }
};

struct FederatedDataset {
  int64_t train_data_num = 0;
  int64_t test_data_num = 0;
  TensorData train_data_global;
  TensorData test_data_global;
  std::map<int64_t, int64_t> train_data_local_num_dict;  // data-silo index -> sample count
  std::map<int64_t, TensorData> train_data_local_dict;
  std::map<int64_t, TensorData> test_data_local_dict;
  int64_t class_num = 0;
};

namespace data {

// Reads an IDX file (the MNIST format), plain or gzip-compressed, as a uint8 tensor with the
// file's dimensions. Throws DataError naming the file on a bad magic number, unsupported element
// type, truncated data or trailing bytes.
torch::Tensor read_idx(const std::string& path);

// Converts a stored input batch to the model's input: uint8 images become float in [0, 1].
torch::Tensor to_model_input(const torch::Tensor& x);

// Reads the dataset named in args (IDX or FedML's LEAF JSON), partitions it over
// args.client_num_in_total data silos, and returns it with the number of classes.
// Throws DataError naming the file and what is wrong.
std::pair<FederatedDataset, int64_t> load_cross_silo(const Args& args);

// Splits one epoch's sample order into per-trainer batches so that every trainer of a silo
// runs the same number of steps (ceil(N / (batch_size * n))), and step j of all trainers together
// covers exactly the samples one trainer with batch_size * n would see in its step j. The last
// step's remainder is spread evenly; a trainer's batch there may be empty when fewer than n
// samples remain (the gradient all-reduce weights by sample count, so that is exact).
// Returns [trainer][step] int64 index tensors.
std::vector<std::vector<torch::Tensor>> split_for_dist_trainers(const torch::Tensor& order,
                                                                int64_t batch_size, int64_t n);

}  // namespace data
}  // namespace fedsilo
