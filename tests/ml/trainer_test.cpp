#include <gtest/gtest.h>

#include "fedsilo/dataset.h"
#include "fedsilo/error.h"
#include "fedsilo/state_dict.h"
#include "fedsilo/trainer.h"
#include "test_util.h"

using namespace fedsilo;

namespace {
struct Fixture {
  testutil::TempDir dir;
  FederatedDataset ds;
  Args args;
  Fixture(std::vector<std::string> sets = {}) {
    testutil::make_synthetic_mnist(dir.path(), 600, 200);
    sets.push_back("train_args.client_num_in_total=1");
    sets.push_back("train_args.client_num_per_round=1");
    sets.push_back("train_args.client_id_list=[1]");
    args = testutil::small_args(dir.path(), dir / "log", sets);
    ds = data::load_cross_silo(args).first;
  }
  torch::Tensor train_once() {
    auto m = model::create(args, 10);
    // The rule's own trainer (FedProx's has the proximal term's hook).
    auto t = registry::trainer_for(args.federated_optimizer)(args, nullptr);
    t->train(m, ds.train_data_local_dict[0], TrainContext{});
    return state_of(m.module())[0].second.clone();
  }
};
}  // namespace

TEST(ClassificationTrainer, LearnsAndReportsSamples) {
  Fixture f({"train_args.epochs=3"});
  auto m = model::create(f.args, 10);
  auto before = evaluate(m, f.ds.test_data_global);
  ClassificationTrainer t(f.args);
  auto r = t.train(m, f.ds.train_data_local_dict[0], TrainContext{});
  auto after = evaluate(m, f.ds.test_data_global);
  EXPECT_EQ(r.num_samples, 600);
  EXPECT_LT(after.loss, before.loss);
  EXPECT_GT(after.accuracy, 0.9);
  EXPECT_EQ(after.num_samples, 200);
}

TEST(ClassificationTrainer, SeededAndReproducible) {
  Fixture f;
  EXPECT_TRUE(torch::equal(f.train_once(), f.train_once()));
}

TEST(ClassificationTrainer, WeightDecayIsHonoured) {
  Fixture a({"train_args.weight_decay=0"}), b({"train_args.weight_decay=0.5"});
  auto wa = a.train_once(), wb = b.train_once();
  EXPECT_LT(wb.norm().item<double>(), wa.norm().item<double>());
}

TEST(ClassificationTrainer, MomentumAndAdamChangeTheResult) {
  Fixture plain, momentum({"train_args.momentum=0.9"}), adam({"train_args.client_optimizer=adam"});
  auto w = plain.train_once();
  EXPECT_FALSE(torch::equal(w, momentum.train_once()));
  EXPECT_FALSE(torch::equal(w, adam.train_once()));
}

TEST(FedProx, MuZeroTrainsExactlyLikeFedAvg) {
  Fixture plain, prox({"train_args.federated_optimizer=FedProx", "train_args.fedprox_mu=0"});
  EXPECT_TRUE(torch::equal(plain.train_once(), prox.train_once()));
}

TEST(FedProx, APositiveMuPullsTheWeightsTowardTheGlobalModel) {
  Fixture plain({"train_args.epochs=3"}),
      prox({"train_args.epochs=3", "train_args.federated_optimizer=FedProx",
            "train_args.fedprox_mu=1"});
  auto start = state_of(model::create(plain.args, 10).module())[0].second.clone();
  double moved_plain = (plain.train_once() - start).norm().item<double>();
  double moved_prox = (prox.train_once() - start).norm().item<double>();
  EXPECT_GT(moved_plain, 0);
  EXPECT_LT(moved_prox, 0.8 * moved_plain);
}

TEST(Scaffold, TheCorrectionJoinsEveryStepsGradient) {
  // One full-batch step: the corrected step lands exactly lr * (c - c_i) from the plain one.
  std::vector<std::string> one_step = {"train_args.batch_size=1000", "train_args.weight_decay=0"};
  Fixture f(one_step);
  auto start = model::create(f.args, 10);
  auto train = [&](const StateDict* correction) {
    auto m = model::create(f.args, 10);
    load_state(m.module(), state_of(start.module()), "start");
    auto t = registry::trainers().get("SCAFFOLD")(f.args, nullptr);
    TrainContext ctx;
    ctx.correction = correction;
    auto r = t->train(m, f.ds.train_data_local_dict[0], ctx);
    EXPECT_EQ(r.local_steps, 1);
    return clone_state(state_of(m.module()));
  };
  StateDict correction, zero;
  torch::manual_seed(3);
  for (const auto& [name, t] : state_of(start.module())) {
    correction.emplace_back(name, torch::randn(t.sizes()));
    zero.emplace_back(name, torch::zeros(t.sizes()));
  }
  auto plain = train(nullptr);
  auto corrected = train(&correction);
  auto with_zero = train(&zero);
  for (size_t i = 0; i < plain.size(); ++i) {
    auto want = plain[i].second - f.args.learning_rate * correction[i].second;
    EXPECT_TRUE(torch::allclose(corrected[i].second, want, 1e-5, 1e-6)) << plain[i].first;
    EXPECT_TRUE(torch::equal(with_zero[i].second, plain[i].second))
        << "a zero correction is FedAvg";
  }
  StateDict wrong = {{"nope", torch::zeros({3})}};
  auto m = model::create(f.args, 10);
  auto t = registry::trainers().get("SCAFFOLD")(f.args, nullptr);
  TrainContext ctx;
  ctx.correction = &wrong;
  EXPECT_THROW(t->train(m, f.ds.train_data_local_dict[0], ctx), ProtocolError);
}
