// DDP semantics with a real Gloo process group (two trainers as threads of this process).
#include "silo/ddp_gradient_sync.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/subprocess.h"
#include "fedsilo/error.h"
#include "fedsilo/state_dict.h"
#include "ml/model_blob.h"
#include "silo/round_channel.h"
#include "test_util.h"

using namespace fedsilo;
using namespace std::chrono_literals;

namespace {

struct SiloData {
  testutil::TempDir dir;
  FederatedDataset ds;
  Args args(int64_t batch) {
    auto a = testutil::small_args(
        dir.path(), dir / "log",
        {"train_args.client_num_in_total=1", "train_args.client_num_per_round=1",
         "train_args.client_id_list=[1]", "train_args.epochs=3",
         "train_args.batch_size=" + std::to_string(batch), "train_args.momentum=0.5"});
    return a;
  }
  SiloData() {
    testutil::make_synthetic_mnist(dir.path(), 203, 20);  // 203: the last step is uneven
    ds = data::load_cross_silo(args(10)).first;
  }
};

silo::GroupOptions group_options(int port, int64_t rank, int64_t world) {
  silo::GroupOptions o;
  o.master_port = port;
  o.rank = rank;
  o.world_size = world;
  o.rendezvous_timeout = 30s;
  o.op_timeout = 30s;
  return o;
}

}  // namespace

TEST(DdpGradientSync, TwoTrainersOfBatch10EqualOneTrainerOfBatch20) {
  SiloData s;
  auto one = model::create(s.args(20), 10);
  ClassificationTrainer(s.args(20))
      .train(one, s.ds.train_data_local_dict[0], TrainContext{3, 1, 0});

  int port = free_loopback_port();
  std::vector<StateDict> replicas(2);
  std::vector<int64_t> samples(2);
  std::vector<std::thread> threads;
  for (int64_t rank = 0; rank < 2; ++rank) {
    threads.emplace_back([&, rank] {
      auto group = silo::SiloGroup::connect(group_options(port, rank, 2));
      silo::DdpGradientSync ddp(*group);
      auto m = model::create(s.args(10), 10);
      auto r = ClassificationTrainer(s.args(10), &ddp)
                   .train(m, s.ds.train_data_local_dict[0], TrainContext{3, 1, 0});
      samples[rank] = r.num_samples;
      replicas[rank] = clone_state(state_of(m.module()));
    });
  }
  for (auto& t : threads) t.join();
  auto single = state_of(one.module());
  for (size_t i = 0; i < single.size(); ++i) {
    EXPECT_TRUE(torch::equal(replicas[0][i].second, replicas[1][i].second))
        << "replicas diverged: " << single[i].first;
    EXPECT_TRUE(torch::allclose(replicas[0][i].second, single[i].second, 1e-5, 1e-6))
        << single[i].first << " max diff "
        << (replicas[0][i].second - single[i].second).abs().max().item<float>();
  }
  EXPECT_EQ(samples[0], 203);
  EXPECT_EQ(samples[1], 203);
}

TEST(DdpGradientSync, MasterHandsOutRoundsAndModels) {
  int port = free_loopback_port();
  Args a;
  std::thread worker([&] {
    auto group = silo::SiloGroup::connect(group_options(port, 1, 2));
    auto m = model::create(a, 10);
    auto order = silo::receive_order(*group, m.module());
    EXPECT_EQ(order.command, silo::SiloCommand::kTrain);
    EXPECT_EQ(order.round, 7);
    EXPECT_EQ(order.data_silo_index, 42);
    EXPECT_FLOAT_EQ(state_of(m.module())[0].second.sum().item<float>(), 7840.0f);
    EXPECT_EQ(silo::receive_order(*group, m.module()).command, silo::SiloCommand::kFinish);
  });
  auto group = silo::SiloGroup::connect(group_options(port, 0, 2));
  auto m = model::create(a, 10);
  {
    torch::NoGradGuard g;
    state_of(m.module())[0].second.fill_(1.0f);
  }
  auto state = state_of(m.module());
  silo::send_order(*group, {silo::SiloCommand::kTrain, 7, 42}, state);
  silo::send_order(*group, {silo::SiloCommand::kFinish}, state);
  worker.join();
}

// A model larger than one chunk, with tensors that straddle chunk boundaries, arrives whole
// and in place: the worker's own parameters hold the master's values afterwards.
TEST(DdpGradientSync, ALargeModelGoesInChunksIntoTheWorkersTensors) {
  struct Big : torch::nn::Module {
    Big() {
      a = register_module("a", torch::nn::Linear(1500, 2049));  // about 12.3 MB
      b = register_module("b", torch::nn::Linear(1500, 1001));  // about 6 MB: crosses 16 MiB
    }
    torch::nn::Linear a{nullptr}, b{nullptr};
  };
  ASSERT_GT((3075549 + 1502501) * 4, silo::kOrderChunkBytes);
  int port = free_loopback_port();
  auto master_model = std::make_shared<Big>();
  std::thread worker([&] {
    auto group = silo::SiloGroup::connect(group_options(port, 1, 2));
    auto mine = std::make_shared<Big>();
    auto before = state_of(*mine)[0].second.data_ptr();
    auto order = silo::receive_order(*group, *mine);
    EXPECT_EQ(order.command, silo::SiloCommand::kTrain);
    auto theirs = state_of(*master_model), got = state_of(*mine);
    EXPECT_EQ(got[0].second.data_ptr(), before) << "the model must land in the worker's tensors";
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(torch::equal(got[i].second, theirs[i].second)) << got[i].first;
    EXPECT_EQ(silo::receive_order(*group, *mine).command, silo::SiloCommand::kAbort);
  });
  auto group = silo::SiloGroup::connect(group_options(port, 0, 2));
  silo::send_order(*group, {silo::SiloCommand::kTrain, 0, 0}, state_of(*master_model));
  silo::send_order(*group, {silo::SiloCommand::kAbort}, state_of(*master_model));
  worker.join();
}

// A worker waits for the next order while its master waits on the server, which may be far longer
// than the trainers took to meet: the wait is bounded by op_timeout, not rendezvous_timeout.
// (Gloo's pairs keep the timeout they were made with; they were made with the rendezvous one.)
TEST(SiloGroup, AnOrderMayComeLaterThanTheRendezvousTimeout) {
  int port = free_loopback_port();
  auto options = [&](int64_t rank) {
    auto o = group_options(port, rank, 2);
    o.rendezvous_timeout = 1s;
    o.op_timeout = 60s;
    return o;
  };
  Args a;
  std::thread worker([&] {
    auto group = silo::SiloGroup::connect(options(1));
    auto m = model::create(a, 10);
    try {
      EXPECT_EQ(silo::receive_order(*group, m.module()).command, silo::SiloCommand::kFinish);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  });
  auto group = silo::SiloGroup::connect(options(0));
  auto m = model::create(a, 10);
  // The scenario itself, not a wait for something: the master's next word comes 2.5 s after the
  // trainers met, longer than their 1 s rendezvous timeout.
  std::this_thread::sleep_for(2500ms);
  silo::send_order(*group, {silo::SiloCommand::kFinish}, state_of(m.module()));
  worker.join();
}

// And op_timeout does bound it: a worker whose live master never sends gets an error naming the
// process group, it does not hang.
TEST(SiloGroup, AWorkerWaitsForAnOrderAtMostOpTimeout) {
  int port = free_loopback_port();
  auto options = [&](int64_t rank) {
    auto o = group_options(port, rank, 2);
    o.op_timeout = 1500ms;
    return o;
  };
  Args a;
  std::string error;
  std::thread worker([&] {
    auto group = silo::SiloGroup::connect(options(1));
    auto m = model::create(a, 10);
    try {
      silo::receive_order(*group, m.module());
    } catch (const Error& e) {
      error = e.what();
    }
  });
  auto group = silo::SiloGroup::connect(options(0));
  worker.join();  // the master stays connected and silent until the worker gives up
  EXPECT_NE(error.find("silo process group (127.0.0.1:" + std::to_string(port) + ")"),
            std::string::npos)
      << error;
}

TEST(SiloGroup, RendezvousHasADeadlineAndNamesTheAddress) {
  auto o = group_options(free_loopback_port(), 1, 2);  // rank 1 waits for a master that never comes
  o.rendezvous_timeout = 1500ms;
  try {
    silo::SiloGroup::connect(o);
    FAIL();
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(o.master_port)),
              std::string::npos)
        << e.what();
  }
}
