// The five-line API's Client and Server with a user's trainer and aggregator, over a real broker.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fedsilo/fedsilo.h"
#include "test_services.h"

using namespace fedsilo;

namespace {

std::atomic<int> trained{0}, folded{0};

class CountingTrainer : public Trainer {
 public:
  CountingTrainer(const Args& args, GradientSync* sync) : inner_(args, sync) {}
  TrainResult train(Model& model, const TensorData& data, const TrainContext& ctx) override {
    ++trained;
    return inner_.train(model, data, ctx);
  }

 private:
  ClassificationTrainer inner_;
};

class CountingAggregator : public FedAvgAggregator {
 public:
  void accumulate(const StateDict& model, double weight) override {
    ++folded;
    FedAvgAggregator::accumulate(model, weight);
  }
};

}  // namespace

TEST(HierarchicalApi, UserTrainerAndAggregatorReplaceTheDefaults) {
  testutil::Broker broker;
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 60);
  auto base = testutil::small_args(
      dir.path(), dir / "log",
      {"comm_args.backend=MQTT_S3", "comm_args.mqtt_config_path=" + broker.write_config(dir.path()),
       "comm_args.object_store=file://" + (dir / "blobs"), "comm_args.round_timeout_s=60",
       "comm_args.online_timeout_s=60"});
  base.run_id = "api";
  auto [dataset, classes] = data::load_cross_silo(base);
  std::vector<std::thread> silos;
  std::vector<int> codes(3, -1);
  for (int rank : {1, 2}) {
    silos.emplace_back([&, rank] {
      Args a = base;
      a.rank = rank;
      codes[rank] =
          cross_silo::hierarchical::Client(a, torch::kCPU, dataset, model::create(a, classes))
              .with_trainer([](const Args& args, GradientSync* sync) {
                return std::make_unique<CountingTrainer>(args, sync);
              })
              .run();
    });
  }
  Args s = base;
  s.rank = 0;
  codes[0] = cross_silo::hierarchical::Server(s, torch::kCPU, dataset, model::create(s, classes))
                 .with_aggregator(std::make_unique<CountingAggregator>())
                 .run();
  for (auto& t : silos) t.join();
  EXPECT_EQ(codes, (std::vector<int>{0, 0, 0}));
  EXPECT_EQ(trained.load(), 12) << "2 silos x 6 rounds through the user's trainer";
  EXPECT_EQ(folded.load(), 12) << "every model through the user's aggregator";
}
