#include "fedsilo/simulate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ml/safetensors.h"
#include "test_util.h"

using namespace fedsilo;

TEST(Simulate, RunsAllRoundsEvaluatesAndWritesOutputs) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 400, 100);
  auto args = testutil::small_args(dir.path(), dir / "log");
  auto summary = simulate(args);
  EXPECT_GT(summary.final_metrics["test_acc"].get<double>(), 0.5);
  EXPECT_TRUE(summary.final_metrics.contains("train_acc"));

  std::ifstream metrics(summary.output_dir + "/metrics.jsonl");
  std::vector<int> evaluated;
  std::string line;
  int rounds = 0;
  while (std::getline(metrics, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["round"], rounds);
    EXPECT_EQ(j["silos"].size(), 2u);
    if (j.contains("test_acc")) evaluated.push_back(j["round"]);
    ++rounds;
  }
  EXPECT_EQ(rounds, 6);
  EXPECT_EQ(evaluated, (std::vector<int>{0, 2, 4, 5}));  // every 2 rounds and the last
  auto model =
      safetensors_decode(testutil::read_file(summary.output_dir + "/final_model.safetensors"));
  ASSERT_EQ(model.size(), 2u);
  EXPECT_EQ(model[0].first, "linear.weight");
}

TEST(Simulate, SameConfigAndSeedGiveIdenticalModelBytes) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 50);
  auto a = simulate(testutil::small_args(dir.path(), dir / "a"));
  auto b = simulate(testutil::small_args(dir.path(), dir / "b"));
  auto c = simulate(testutil::small_args(dir.path(), dir / "c", {"common_args.random_seed=3"}));
  auto bytes = [](const RunSummary& s) {
    return testutil::read_file(s.output_dir + "/final_model.safetensors");
  };
  EXPECT_FALSE(bytes(a).empty());
  EXPECT_EQ(bytes(a), bytes(b));
  EXPECT_NE(bytes(a), bytes(c));
}

TEST(Simulate, SelectsASubsetOfSilosEachRound) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 50);
  auto args = testutil::small_args(
      dir.path(), dir / "log",
      {"train_args.client_id_list=[1, 2, 3]", "train_args.client_num_per_round=2",
       "train_args.client_num_in_total=6", "train_args.comm_round=4"});
  auto summary = simulate(args);
  std::ifstream metrics(summary.output_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(metrics, line)) EXPECT_EQ(nlohmann::json::parse(line)["silos"].size(), 2u);
}

TEST(Simulate, OneTrainerPerSiloTrainsOnAllOfItsData) {
  // simulate runs one trainer per silo whatever client_silo_args says; it must not train on a
  // 1/n shard as if n - 1 other trainers were there.
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 50);
  auto a = simulate(testutil::small_args(dir.path(), dir / "a"));
  auto b =
      simulate(testutil::small_args(dir.path(), dir / "b", {"client_silo_args.n_proc_per_node=2"}));
  EXPECT_EQ(testutil::read_file(a.output_dir + "/final_model.safetensors"),
            testutil::read_file(b.output_dir + "/final_model.safetensors"));
}

namespace {
// Any torch::nn::Module works, buffers included: BatchNorm's running statistics are averaged
// with the parameters, as FedML does.
struct BatchNormNetImpl : torch::nn::Module {
  BatchNormNetImpl()
      : fc1(register_module("fc1", torch::nn::Linear(784, 32))),
        bn(register_module("bn", torch::nn::BatchNorm1d(32))),
        fc2(register_module("fc2", torch::nn::Linear(32, 10))) {}
  torch::Tensor forward(torch::Tensor x) { return fc2(torch::relu(bn(fc1(x.flatten(1))))); }
  torch::nn::Linear fc1;
  torch::nn::BatchNorm1d bn;
  torch::nn::Linear fc2;
};
TORCH_MODULE(BatchNormNet);
}  // namespace

TEST(Simulate, CustomModelWithBuffersIsTrainedAndAveraged) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 60);
  auto args = testutil::small_args(dir.path(), dir / "log");
  auto dataset = data::load_cross_silo(args).first;
  auto summary = simulate(args, dataset, [] {
    torch::manual_seed(0);
    return Model(BatchNormNet());
  });
  EXPECT_GT(summary.final_metrics["test_acc"].get<double>(), 0.5);
  auto model =
      safetensors_decode(testutil::read_file(summary.output_dir + "/final_model.safetensors"));
  std::map<std::string, torch::Tensor> by_name(model.begin(), model.end());
  ASSERT_TRUE(by_name.count("bn.running_mean"));
  ASSERT_TRUE(by_name.count("bn.num_batches_tracked"));
  EXPECT_GT(by_name["bn.running_mean"].abs().sum().item<float>(), 0.0f)
      << "statistics moved from their start";
  EXPECT_EQ(by_name["bn.num_batches_tracked"].scalar_type(), torch::kInt64);
  EXPECT_GT(by_name["bn.num_batches_tracked"].item<int64_t>(), 0);
}
