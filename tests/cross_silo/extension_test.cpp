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

// A small synthetic MNIST federation: its folder, config and loaded data set.
struct SyntheticMnist {
  testutil::TempDir dir;
  Args args;
  FederatedDataset dataset;
  int64_t classes = 0;
  SyntheticMnist() {
    testutil::make_synthetic_mnist(dir.path(), 300, 60);
    args = testutil::small_args(dir.path(), dir / "log");
    std::tie(dataset, classes) = data::load_cross_silo(args);
  }
};

}  // namespace

TEST(Extension, UserTrainerAndAggregatorRunUnderSimulate) {
  SyntheticMnist run;
  auto& args = run.args;
  auto& dataset = run.dataset;
  int64_t c = run.classes;
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

// A bfloat16 or float16 model trains, travels and aggregates in its own dtype: its blobs are
// half the size of the float32 model's, and the final model keeps the dtype, finite and trained
// like the float32 one to the dtype's precision.
namespace {
std::pair<StateDict, uintmax_t> final_model_in(torch::ScalarType dtype, const std::string& data,
                                               const std::string& out) {
  auto args = testutil::small_args(data, out);
  auto [dataset, classes] = data::load_cross_silo(args);
  int64_t c = classes;
  auto summary = simulate(args, dataset, [&] {
    torch::manual_seed(args.random_seed);
    TinyMlp m(28 * 28, c);
    m->to(dtype);
    return Model(m);
  });
  auto path = summary.output_dir + "/final_model.safetensors";
  return {safetensors_decode(testutil::read_file(path)), std::filesystem::file_size(path)};
}

void expect_trained_in(torch::ScalarType dtype) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 60);
  auto [f32, f32_bytes] = final_model_in(torch::kFloat32, dir.path(), dir / "log-f32");
  auto [low, low_bytes] = final_model_in(dtype, dir.path(), dir / "log-low");
  for (size_t i = 0; i < low.size(); ++i) {
    EXPECT_EQ(low[i].second.scalar_type(), dtype) << low[i].first;
    auto as_f32 = low[i].second.to(torch::kFloat32);
    EXPECT_TRUE(torch::isfinite(as_f32).all().item<bool>()) << low[i].first;
    EXPECT_TRUE(torch::allclose(as_f32, f32[i].second, 0.05, 0.05)) << low[i].first;
  }
  EXPECT_LT(low_bytes, f32_bytes * 0.55) << "a 16-bit blob is about half the size";
}
}  // namespace

TEST(Extension, ABfloat16ModelTrainsAndAggregatesInItsOwnDtype) {
  expect_trained_in(torch::kBFloat16);
}

// Float16: the built-in trainer needs a GPU for it (libtorch has no float16 matmul on the CPU)
// and says so; a model that trains otherwise travels and aggregates in float16.
TEST(Extension, AFloat16ModelTravelsAndAggregatesInItsOwnDtype) {
  SyntheticMnist run;
  auto& args = run.args;
  auto& dataset = run.dataset;
  auto& dir = run.dir;
  int64_t c = run.classes;
  auto make = [&] {
    torch::manual_seed(args.random_seed);
    TinyMlp m(28 * 28, c);
    m->to(torch::kFloat16);
    return Model(m);
  };
  try {
    simulate(args, dataset, make);
    ADD_FAILURE() << "float16 training on the CPU ran";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("float16"), std::string::npos) << e.what();
  }
  // Each silo adds 1/64 to every weight (exact in float16): the aggregate moves by 1/64 a round.
  class Nudge : public Trainer {
   public:
    TrainResult train(Model& model, const TensorData& data, const TrainContext&) override {
      torch::NoGradGuard no_grad;
      for (auto& p : model.module().parameters()) p.add_(1.0 / 64);
      return {data.size(), 0, 0, 1};
    }
  };
  SimulateOptions options;
  options.trainer = [](const Args&, GradientSync*) { return std::make_unique<Nudge>(); };
  options.evaluator = [](Model&, int64_t) { return nlohmann::json::object(); };
  auto out = testutil::small_args(dir.path(), dir / "log2");
  auto summary = simulate(out, dataset, make, options);
  auto final =
      safetensors_decode(testutil::read_file(summary.output_dir + "/final_model.safetensors"));
  auto start = state_of(make().module());
  for (size_t i = 0; i < final.size(); ++i) {
    EXPECT_EQ(final[i].second.scalar_type(), torch::kFloat16) << final[i].first;
    auto moved = (final[i].second.to(torch::kFloat32) - start[i].second.to(torch::kFloat32));
    EXPECT_TRUE(torch::allclose(moved, torch::full_like(moved, out.comm_round / 64.0), 0, 0.01))
        << final[i].first;
  }
}

// A rule says what it needs; nothing asks for its name. A user's rule that declares a proximal
// term trains exactly like FedProx with the same mu.
TEST(Extension, ARulesNeedsAreDeclaredNotMatchedByName) {
  EXPECT_TRUE(registry::needs_of("SCAFFOLD").control_variates);
  EXPECT_TRUE(registry::needs_of("FedNova").local_steps);
  EXPECT_FALSE(registry::needs_of("FedAvg").local_steps);
  EXPECT_FALSE(registry::needs_of("NoSuchRule").local_steps) << "no needs by default";
  // FedProx's proximal term is its trainer's step hook: a rule that trains like FedProx
  // registers that trainer, and is FedProx bit for bit.
  registry::aggregators().add("MyProx", registry::aggregators().get("FedAvg"));
  registry::trainers().add("MyProx", registry::trainers().get("FedProx"));
  auto final_bytes = [](const std::string& rule) {
    SyntheticMnist run;
    run.args.federated_optimizer = rule;
    run.args.fedprox_mu = 0.5;
    auto summary = simulate(run.args);
    return testutil::read_file(summary.output_dir + "/final_model.safetensors");
  };
  EXPECT_EQ(final_bytes("MyProx"), final_bytes("FedProx"));
}
