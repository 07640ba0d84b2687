// Secure aggregation inside whole runs: the same final model as plain FedAvg within the
// quantisation error, a silo that vanishes mid-round recovered, and (with a real mosquitto) the
// distributed run.
#include "protocol/secure_round.h"

#include <gtest/gtest.h>

#include <torch/torch.h>
#include <fstream>

#include "cli_run.h"
#include "comm/inproc_transport.h"
#include "comm/object_store.h"
#include "server/server_manager.h"
#include "client/silo_master.h"
#include "fedsilo/dataset.h"
#include "fedsilo/error.h"
#include "fedsilo/model.h"
#include "fedsilo/simulate.h"
#include "fedsilo/trainer.h"
#include "ml/dp_mechanism.h"
#include "ml/safetensors.h"
#include "test_services.h"
#include "test_util.h"

using namespace fedsilo;
using namespace std::chrono_literals;

namespace {

double max_difference(const StateDict& a, const StateDict& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, (a[i].second - b[i].second).abs().max().item<double>());
  return worst;
}

StateDict final_model_of(const std::string& output_dir) {
  return safetensors_decode(testutil::read_file(output_dir + "/final_model.safetensors"));
}

const std::vector<std::string> kFourSilos = {"train_args.client_id_list=[1, 2, 3, 4]",
                                             "train_args.client_num_in_total=4",
                                             "train_args.client_num_per_round=4"};

}  // namespace

TEST(SecureRound, SimulatedRunMatchesPlainFedAvgWithinTheQuantisationError) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 60);
  auto plain_args = testutil::small_args(dir.path(), dir / "plain", kFourSilos);
  auto sets = kFourSilos;
  sets.push_back("secure_aggregation_args.enable_sa=true");
  auto sa_args = testutil::small_args(dir.path(), dir / "sa", sets);
  auto plain = final_model_of(simulate(plain_args).output_dir);
  auto secure = final_model_of(simulate(sa_args).output_dir);
  // 6 rounds, each rounding every value by at most 2^-17: the runs stay within 1e-3.
  EXPECT_LT(max_difference(plain, secure), 1e-3);
  EXPECT_GT(max_difference(plain, secure), 0.0) << "SA must actually have run (quantised)";
}

TEST(SecureRound, LocalDpRunsWithItAndTheAccountantStillReports) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 60);
  auto sets = kFourSilos;
  for (std::string s : {"secure_aggregation_args.enable_sa=true", "dp_args.enable_dp=true",
                        "dp_args.dp_solution_type=ldp", "dp_args.epsilon=2",
                        "dp_args.sensitivity=0.01", "dp_args.enable_rdp_accountant=true"})
    sets.push_back(s);
  auto args = testutil::small_args(dir.path(), dir / "log", sets);
  auto summary = simulate(args);
  std::ifstream in(summary.output_dir + "/metrics.jsonl");
  std::string line;
  int64_t rounds = 0;
  auto c = dp::calibrate(args);
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    ++rounds;
    EXPECT_DOUBLE_EQ(j["aggregation"]["dp_epsilon"].get<double>(),
                     dp::rdp_epsilon(c, rounds, c.delta));
  }
  EXPECT_EQ(rounds, args.comm_round);
}

TEST(SecureRound, ASiloThatVanishesAfterSharingItsKeysIsRecovered) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 60);
  auto sets = kFourSilos;
  sets.push_back("secure_aggregation_args.enable_sa=true");
  sets.push_back("train_args.comm_round=1");
  auto args = testutil::small_args(dir.path(), dir / "log", sets);
  auto [dataset, classes] = data::load_cross_silo(args);
  auto make_model = [&, classes = classes] { return model::create(args, classes, 784); };
  comm::InprocBus bus;
  comm::MemoryStore store;
  auto server_end = bus.endpoint(0);
  cross_silo::ServerManager server(args, make_model(), *server_end, store, nullptr);
  std::map<int64_t, std::unique_ptr<comm::Transport>> ends;
  std::map<int64_t, std::unique_ptr<Trainer>> trainers;
  std::map<int64_t, std::unique_ptr<cross_silo::SiloMaster>> silos;
  for (int64_t id = 1; id <= 4; ++id) {
    ends[id] = bus.endpoint(id);
    trainers[id] = registry::trainer_for("FedAvg")(args, nullptr);
    silos[id] = std::make_unique<cross_silo::SiloMaster>(args, id, make_model(), *trainers[id],
                                                         dataset, *ends[id], store);
    silos[id]->start();
  }
  server.start();
  // Silo 4 shares its keys, then vanishes before uploading: its last will says OFFLINE.
  std::map<int64_t, StateDict> trained;
  std::map<int64_t, double> weight;
  bool vanished = false;
  for (int step = 0; step < 1000 && !server.done(); ++step) {
    while (auto m = server_end->receive(0ms)) {
      if (m->type == comm::MsgType::kSendModel) weight[m->sender] = m->num_samples;
      server.handle(*m);
    }
    for (auto& [id, end] : ends) {
      while (auto m = end->receive(0ms)) {
        if (id == 4 && m->type == comm::MsgType::kSaDeliver) {
          vanished = true;
          comm::Message offline = cross_silo::SiloMaster::last_will(args, 4);
          server.handle(offline);
          continue;
        }
        if (id == 4 && vanished) continue;
        if (m->type == comm::MsgType::kSaDeliver)
          trained[id] = clone_state(state_of(silos[id]->model().module()));
        silos[id]->handle(*m);
      }
    }
  }
  ASSERT_TRUE(server.done());
  ASSERT_TRUE(vanished);
  EXPECT_EQ(server.exit_code(), ExitCode::kCompleted);
  ASSERT_EQ(weight.size(), 3u);
  // The aggregate is the weighted average of silos 1 to 3 alone.
  StateDict want = clone_state(trained[1]);
  double total = weight[1] + weight[2] + weight[3];
  for (size_t i = 0; i < want.size(); ++i) {
    want[i].second = (trained[1][i].second * weight[1] + trained[2][i].second * weight[2] +
                      trained[3][i].second * weight[3]) /
                     total;
  }
  EXPECT_LT(max_difference(state_of(server.model().module()), want), 1e-4);
}

TEST(SecureRound, DistributedRunOverMosquittoMatchesPlainWithinTheQuantisationError) {
  testutil::Broker broker;
  testutil::CliRun run(broker, {"secure_aggregation_args.enable_sa=true"});
  run.use_directory_store();
  testutil::run_server_and_two_silos(run);
  auto secure = safetensors_decode(run.final_model());
  auto plain = safetensors_decode(run.simulated_model());
  EXPECT_LT(max_difference(plain, secure), 1e-3);
  // The store never held a silo's plain update: its blobs are masked integers.
  EXPECT_NE(run.output("server", 0).find("secure aggregation asks silos"), std::string::npos);
}

TEST(SecureRound, ANonPrimeFieldStopsTheRunBeforeItStarts) {
  testutil::TempDir dir;
  auto sets = kFourSilos;
  sets.push_back("secure_aggregation_args.enable_sa=true");
  sets.push_back("secure_aggregation_args.prime_number=32750");  // even: not a field
  auto args = testutil::small_args(dir.path(), dir / "log", sets);
  comm::InprocBus bus;
  comm::MemoryStore store;
  auto end = bus.endpoint(0);
  try {
    cross_silo::ServerManager server(args, model::create(args, 10), *end, store, nullptr);
    FAIL() << "a non-prime prime_number must stop the run (exit 2)";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("prime_number = 32750"), std::string::npos) << e.what();
  }
}
