// The extension points as a user meets them: a trainer and an aggregator of their own under
// simulate, and components registered by name and chosen from the config.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <filesystem>

#include "fedsilo/fedsilo.h"
#include "ml/safetensors.h"
#include "test_util.h"

using namespace fedsilo;

namespace {

struct Counts {
  int trained = 0, folded = 0, resets = 0;
  bool reset_saw_global_values = false;
};

class CountingTrainer : public Trainer {
 public:
  CountingTrainer(const Args& args, Counts& c) : inner_(args), c_(c) {}
  TrainResult train(Model& model, const TensorData& data, const TrainContext& ctx) override {
    ++c_.trained;
    return inner_.train(model, data, ctx);
  }

 private:
  ClassificationTrainer inner_;
  Counts& c_;
};

// FedAvg that also checks it is handed the current global model each round.
class CountingAggregator : public FedAvgAggregator {
 public:
  explicit CountingAggregator(Counts& c) : c_(c) {}
  void reset(const StateDict& global) override {
    ++c_.resets;
    if (previous_.defined() && !global.empty())
      c_.reset_saw_global_values = global[0].second.equal(previous_);
    FedAvgAggregator::reset(global);
  }
  void accumulate(const StateDict& model, double weight) override {
    ++c_.folded;
    FedAvgAggregator::accumulate(model, weight);
  }
  StateDict report() override {
    auto out = FedAvgAggregator::report();
    previous_ = out[0].second.clone();
    return out;
  }

 private:
  Counts& c_;
  mutable torch::Tensor previous_;
};

struct TinyMlpImpl : torch::nn::Module {
  TinyMlpImpl(int64_t in, int64_t out)
      : hidden(register_module("hidden", torch::nn::Linear(in, 16))),
        head(register_module("head", torch::nn::Linear(16, out))) {}
  torch::Tensor forward(torch::Tensor x) {
    return head(torch::relu(hidden(x.reshape({x.size(0), -1}))));
  }
  torch::nn::Linear hidden, head;
};
TORCH_MODULE(TinyMlp);

}  // namespace

TEST(Extension, UserTrainerAndAggregatorRunUnderSimulate) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 60);
  auto args = testutil::small_args(dir.path(), dir / "log");
  auto [dataset, classes] = data::load_cross_silo(args);
  int64_t c = classes;
  Counts counts;
  SimulateOptions options;
  options.trainer = [&](const Args& a, GradientSync*) {
    return std::make_unique<CountingTrainer>(a, counts);
  };
  options.aggregator = [&](const Args&) { return std::make_unique<CountingAggregator>(counts); };
  int evaluations = 0;
  options.evaluator = [&](Model&, int64_t) {
    ++evaluations;
    return nlohmann::json{{"test_acc", 0.25}};
  };
  auto summary = simulate(
      args, dataset, [&] { return model::create(args, c); }, options);
  EXPECT_EQ(counts.trained, 12) << "2 silos x 6 rounds through the user's trainer";
  EXPECT_EQ(counts.folded, 12) << "every model through the user's aggregator";
  EXPECT_EQ(counts.resets, 6);
  EXPECT_TRUE(counts.reset_saw_global_values)
      << "reset() receives the current global model, i.e. last round's aggregate";
  EXPECT_EQ(evaluations, 4);
  EXPECT_EQ(summary.final_metrics["test_acc"], 0.25);
}

TEST(Extension, RegisteredModelIsChosenByTheConfigEverywhere) {
  registry::models().add(
      "tiny_mlp", [](const Args&, int64_t out, int64_t in) { return Model(TinyMlp(in, out)); });
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 60);
  auto args = testutil::small_args(dir.path(), dir / "log", {"model_args.model=tiny_mlp"});
  EXPECT_EQ(args.model, "tiny_mlp");
  auto summary = simulate(args);
  auto blob = testutil::read_file(summary.output_dir + "/final_model.safetensors");
  EXPECT_NE(blob.find("\"hidden.weight\""), std::string::npos) << "the MLP's tensors were trained";
}

TEST(Extension, UnregisteredNamesStopTheConfigNamingKeyAndChoices) {
  testutil::TempDir dir;
  try {
    testutil::small_args(dir.path(), dir / "log", {"train_args.federated_optimizer=FedNope"});
    FAIL() << "an unknown optimizer must not load";
  } catch (const ConfigError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("train_args.federated_optimizer = FedNope"), std::string::npos) << what;
    EXPECT_NE(what.find("FedAvg"), std::string::npos) << what;
  }
  EXPECT_THROW(testutil::small_args(dir.path(), dir / "log", {"train_args.client_optimizer=lbfgs"}),
               ConfigError);
  EXPECT_THROW(registry::aggregators().get("nope"), ConfigError);
}

TEST(Extension, AnOptimizerWithoutItsOwnTrainerTrainsLikeFedAvg) {
  registry::aggregators().add("ServerOnly",
                              [](const Args&) { return std::make_unique<FedAvgAggregator>(); });
  auto t = registry::trainer_for("ServerOnly");
  ASSERT_TRUE(t);
  Args a;
  EXPECT_NE(dynamic_cast<ClassificationTrainer*>(t(a, nullptr).get()), nullptr);
}

// A bfloat16 model trains, travels and aggregates in its own dtype: its blobs are half the
// size of the float32 model's, and the final model is bfloat16, finite and trained.
TEST(Extension, ABfloat16ModelTrainsAndAggregatesInItsOwnDtype) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 60);
  auto final_of = [&](torch::ScalarType dtype, const std::string& run) {
    auto args = testutil::small_args(dir.path(), dir / ("log-" + run));
    auto [dataset, classes] = data::load_cross_silo(args);
    int64_t c = classes;
    auto summary = simulate(args, dataset, [&] {
      torch::manual_seed(args.random_seed);
      TinyMlp m(28 * 28, c);
      m->to(dtype);
      return Model(m);
    });
    auto path = summary.output_dir + "/final_model.safetensors";
    return std::make_pair(safetensors_decode(testutil::read_file(path)),
                          std::filesystem::file_size(path));
  };
  auto [f32, f32_bytes] = final_of(torch::kFloat32, "f32");
  auto [bf16, bf16_bytes] = final_of(torch::kBFloat16, "bf16");
  for (size_t i = 0; i < bf16.size(); ++i) {
    EXPECT_EQ(bf16[i].second.scalar_type(), torch::kBFloat16) << bf16[i].first;
    EXPECT_TRUE(torch::isfinite(bf16[i].second.to(torch::kFloat32)).all().item<bool>());
    // Trained like the float32 model, to bfloat16's precision.
    EXPECT_TRUE(torch::allclose(bf16[i].second.to(torch::kFloat32), f32[i].second, 0.05, 0.05))
        << bf16[i].first;
  }
  EXPECT_LT(bf16_bytes, f32_bytes * 0.55) << "a bfloat16 blob is about half the size";
}
