// Hierarchical silos end to end: launchers start trainer processes that train each round with
// DDP, across one or two nodes, and fail loudly when a trainer dies.
#include "silo/launcher.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "cli_run.h"
#include "ml/safetensors.h"

using namespace fedsilo;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> port_for_silo() {
  return {"--set", "client_silo_args.pg_master_port=" + std::to_string(free_loopback_port())};
}

// Two trainers with batch 10 take the steps one trainer with batch 20 takes.
void expect_close_to_single_trainer(testutil::CliRun& run, const std::vector<std::string>& sets) {
  auto extra = sets;
  extra.push_back("train_args.batch_size=20");
  auto got = safetensors_decode(run.final_model());
  auto want = safetensors_decode(run.simulated_model(extra));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(torch::allclose(got[i].second, want[i].second, 1e-4, 1e-5))
        << got[i].first << " max diff "
        << (got[i].second - want[i].second).abs().max().item<float>();
  }
}

// The pid the launcher names for the trainer it adopted from trainer 0's fork, or 0.
pid_t forked_trainer(const std::string& launcher_output, int64_t silo_rank) {
  auto at = launcher_output.find("trainer " + std::to_string(silo_rank) + " of silo");
  for (; at != std::string::npos;
       at = launcher_output.find("trainer " + std::to_string(silo_rank) + " of silo", at + 1)) {
    auto line = launcher_output.substr(at, launcher_output.find('\n', at) - at);
    auto p = line.find("forked from trainer 0 (pid ");
    if (p != std::string::npos) return std::stoi(line.substr(p + 27));
  }
  return 0;
}

std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> out;
  pid_t c;
  while (in >> c) out.push_back(c);
  return out;
}

// The server and silos 1 and 2, each silo with its own process-group port; all exit 0.
void run_hierarchical(testutil::CliRun& run) {
  auto server = run.start("server", 0);
  auto silo1 = run.start("client", 1, port_for_silo()),
       silo2 = run.start("client", 2, port_for_silo());
  EXPECT_EQ(testutil::finish(*server, run, "server", 0), 0) << run.output("server", 0);
  EXPECT_EQ(testutil::finish(*silo1, run, "client", 1), 0) << run.output("client", 1);
  EXPECT_EQ(testutil::finish(*silo2, run, "client", 2), 0) << run.output("client", 2);
}

class HierarchicalRounds : public ::testing::TestWithParam<int> {};

}  // namespace

TEST_P(HierarchicalRounds, TwoSilosOfTwoTrainersFinishEveryRoundCount) {
  testutil::Broker broker;
  std::vector<std::string> sets = {"train_args.comm_round=" + std::to_string(GetParam()),
                                   "client_silo_args.n_proc_per_node=2"};
  testutil::CliRun run(broker, sets);
  run.use_directory_store();
  run_hierarchical(run);
  EXPECT_EQ(run.rounds_done(), static_cast<size_t>(GetParam()));
  EXPECT_NE(run.output("client", 1).find("all 2 trainers of silo 1 on node 0 finished"),
            std::string::npos);
  expect_close_to_single_trainer(run, {"train_args.comm_round=" + std::to_string(GetParam())});
}

INSTANTIATE_TEST_SUITE_P(CommRound, HierarchicalRounds, ::testing::Values(1, 2, 50));

TEST(Launcher, ScaffoldsCorrectionReachesEveryTrainerOfASilo) {
  // A worker that trained without the round's correction would step its replica elsewhere than
  // the master's, and the silo's model would leave the single trainer's path.
  testutil::Broker broker;
  std::vector<std::string> scaffold = {"train_args.comm_round=4",
                                       "train_args.federated_optimizer=SCAFFOLD"};
  auto sets = scaffold;
  sets.push_back("client_silo_args.n_proc_per_node=2");
  testutil::CliRun run(broker, sets);
  run.use_directory_store();
  run_hierarchical(run);
  expect_close_to_single_trainer(run, scaffold);
}

TEST(Launcher, TwoNodesOfOneSiloJoinThroughTheMasterAddress) {
  testutil::Broker broker;
  std::vector<std::string> sets = {"client_silo_args.n_node_in_silo=2",
                                   "client_silo_args.n_proc_per_node=1"};
  testutil::CliRun run(broker, sets);
  run.use_directory_store();
  auto server = run.start("server", 0);
  std::vector<std::unique_ptr<Subprocess>> launchers;
  for (int silo : {1, 2}) {
    auto port = port_for_silo();
    for (int node : {1, 0}) {  // node 1 first: it must wait for node 0's master
      auto extra = port;
      extra.insert(extra.end(), {"--node_rank", std::to_string(node)});
      launchers.push_back(run.start("client", silo, extra, "-node" + std::to_string(node)));
    }
  }
  EXPECT_EQ(testutil::finish(*server, run, "server", 0), 0) << run.output("server", 0);
  int i = 0;
  for (int silo : {1, 2}) {
    for (int node : {1, 0}) {
      auto tag = "-node" + std::to_string(node);
      EXPECT_EQ(testutil::finish(*launchers[i++], run, "client", silo, tag), 0)
          << run.output("client", silo, tag);
    }
  }
  EXPECT_NE(run.output("client", 1, "-node1").find("trainer 1 of 2 joined silo 1"),
            std::string::npos)
      << run.output("client", 1, "-node1");
  expect_close_to_single_trainer(run, {});
}

TEST(Launcher, AKilledTrainerEndsItsSiloWithAMessageNamingIt) {
  testutil::Broker broker;
  std::vector<std::string> sets = {"client_silo_args.n_proc_per_node=2", "train_args.epochs=40",
                                   "train_args.comm_round=50", "comm_args.round_timeout_s=3"};
  testutil::CliRun run(broker, sets);
  run.use_directory_store();
  auto server = run.start("server", 0);
  auto silo1 = run.start("client", 1, port_for_silo()),
       silo2 = run.start("client", 2, port_for_silo());
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (run.rounds_done() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  ASSERT_GE(run.rounds_done(), 1u) << run.output("server", 0);
  pid_t worker = forked_trainer(run.output("client", 1), 1);
  ASSERT_GT(worker, 0) << "the launcher names no trainer 1: " << run.output("client", 1);
  auto adopted = children_of(silo1->pid());
  ASSERT_NE(std::find(adopted.begin(), adopted.end(), worker), adopted.end())
      << "trainer 1 is not the launcher's child";
  ::kill(worker, SIGKILL);
  int code = testutil::finish(*silo1, run, "client", 1);
  EXPECT_NE(code, 0);
  auto out = run.output("client", 1);
  EXPECT_NE(
      out.find("trainer 1 of silo 1 (pid " + std::to_string(worker) + ") was killed by signal 9"),
      std::string::npos)
      << out;
  EXPECT_EQ(testutil::finish(*server, run, "server", 0), 3) << run.output("server", 0);
  EXPECT_NE(run.output("server", 0).find("silo 1 went OFFLINE"), std::string::npos)
      << run.output("server", 0);
  EXPECT_EQ(testutil::finish(*silo2, run, "client", 2), 4) << run.output("client", 2);
  EXPECT_TRUE(children_of(silo1->pid()).empty());
}

TEST(Launcher, TheFirstTrainerForksItsSiblingsAndTheLauncherAdoptsThem) {
  // Forked siblings skip libtorch's start-up (sibling_trainers.h); FEDSILO_FORK_TRAINERS=0
  // starts every trainer from the launcher. Both train the same rounds.
  for (bool fork : {true, false}) {
    testutil::Broker broker;
    std::vector<std::string> sets = {"client_silo_args.n_proc_per_node=2",
                                     "train_args.comm_round=3"};
    testutil::CliRun run(broker, sets);
    run.use_directory_store();
    if (!fork) run.env_["FEDSILO_FORK_TRAINERS"] = "0";
    run_hierarchical(run);
    for (int silo : {1, 2}) {
      auto out = run.output("client", silo);
      EXPECT_EQ(forked_trainer(out, 1) > 0, fork) << out;
      EXPECT_EQ(out.find("was not forked"), std::string::npos) << out;
      EXPECT_NE(out.find("all 2 trainers of silo " + std::to_string(silo)), std::string::npos)
          << out;
      EXPECT_NE(out.find("trainer 1 of 2 joined silo " + std::to_string(silo)), std::string::npos)
          << out;
    }
    expect_close_to_single_trainer(run, {"train_args.comm_round=3"});
  }
}

// The launcher only starts and watches processes: `fedsilo client` runs it without libtorch,
// while its trainers (fedsilo-engine) have it.
TEST(Launcher, TheLauncherRunsWithoutLibtorchAndItsTrainersWithIt) {
  testutil::Broker broker;
  std::vector<std::string> sets = {"client_silo_args.n_proc_per_node=2", "train_args.comm_round=2"};
  testutil::CliRun run(broker, sets);
  run.use_directory_store();
  auto server = run.start("server", 0);
  auto silo1 = run.start("client", 1, port_for_silo()),
       silo2 = run.start("client", 2, port_for_silo());
  auto maps_of = [](pid_t pid) {
    return testutil::read_file("/proc/" + std::to_string(pid) + "/maps");
  };
  auto deadline = std::chrono::steady_clock::now() + 60s;
  std::vector<pid_t> trainers;
  while (std::chrono::steady_clock::now() < deadline) {
    trainers = children_of(silo1->pid());
    if (trainers.size() == 2 && maps_of(trainers[0]).find("libtorch") != std::string::npos) break;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(trainers.size(), 2u) << run.output("client", 1);
  auto launcher_maps = maps_of(silo1->pid());
  EXPECT_EQ(launcher_maps.find("libtorch"), std::string::npos) << "the launcher loaded libtorch";
  EXPECT_EQ(launcher_maps.find("libfedsilo"), std::string::npos);
  EXPECT_NE(maps_of(trainers[0]).find("libtorch"), std::string::npos);
  // libtorch's start-up runs on the huge-page heap (core/heap_tunables.h) in every engine.
  for (pid_t pid : {trainers[0], server->pid()}) {
    auto env = testutil::read_file("/proc/" + std::to_string(pid) + "/environ");
    EXPECT_NE(env.find(std::string("GLIBC_TUNABLES=glibc.malloc.hugetlb=1") + '\0'),
              std::string::npos)
        << "pid " << pid;
  }
  EXPECT_EQ(testutil::finish(*server, run, "server", 0), 0) << run.output("server", 0);
  EXPECT_EQ(testutil::finish(*silo1, run, "client", 1), 0) << run.output("client", 1);
  EXPECT_EQ(testutil::finish(*silo2, run, "client", 2), 0) << run.output("client", 2);
}
