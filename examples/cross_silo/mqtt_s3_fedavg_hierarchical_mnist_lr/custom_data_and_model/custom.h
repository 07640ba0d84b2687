#pragma once
// The seed's custom_data_and_model example in C++: the user's own data loading and model.
#include <fedsilo/fedsilo.h>
#include <torch/torch.h>

#include <filesystem>

// The seed's LogisticRegression: a linear layer with a sigmoid on the outputs.
struct LogisticRegressionImpl : torch::nn::Module {
  LogisticRegressionImpl(int64_t input_dim, int64_t output_dim)
      : linear(register_module("linear", torch::nn::Linear(input_dim, output_dim))) {}
  torch::Tensor forward(torch::Tensor x) { return torch::sigmoid(linear(x.flatten(1))); }
  torch::nn::Linear linear;
};
TORCH_MODULE(LogisticRegression);

// Builds a FederatedDataset by hand from MNIST's IDX files: data silo c gets every
// client_num_in_total-th training sample, starting at c. The silo's trainers need no manual split
// (FedML's split_data_for_dist_trainers): fedsilo's trainer gives each of them an equal number of
// batches every epoch.
inline std::pair<fedsilo::FederatedDataset, int64_t> load_data(const fedsilo::Args& args) {
  std::string dir = args.resolve(args.data_cache_dir) + "/MNIST";
  if (const char* env = std::getenv("FEDSILO_DATA_DIR")) dir = std::string(env) + "/MNIST";
  auto images = [&](const std::string& name) {
    auto x = fedsilo::data::read_idx(dir + "/" + name + "-images-idx3-ubyte.gz");
    return x.reshape({x.size(0), -1});
  };
  auto labels = [&](const std::string& name) {
    return fedsilo::data::read_idx(dir + "/" + name + "-labels-idx1-ubyte.gz").to(torch::kInt64);
  };
  fedsilo::FederatedDataset ds;
  ds.train_data_global = {images("train"), labels("train")};
  ds.test_data_global = {images("t10k"), labels("t10k")};
  ds.train_data_num = ds.train_data_global.size();
  ds.test_data_num = ds.test_data_global.size();
  ds.class_num = 10;
  int64_t k = args.client_num_in_total;
  for (int64_t c = 0; c < k; ++c) {
    auto idx = torch::arange(c, ds.train_data_num, k, torch::kInt64);
    ds.train_data_local_dict[c] = {ds.train_data_global.x.index_select(0, idx),
                                   ds.train_data_global.y.index_select(0, idx)};
    ds.train_data_local_num_dict[c] = idx.size(0);
    ds.test_data_local_dict[c] = ds.test_data_global;
  }
  return {ds, ds.class_num};
}

inline fedsilo::Model make_model(const fedsilo::Args& args, int64_t output_dim) {
  torch::manual_seed(args.random_seed);  // every process starts from the same weights
  return LogisticRegression(28 * 28, output_dim);
}
