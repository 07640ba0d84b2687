// The server and silos as separate processes of the `fedsilo` tool, over a real mosquitto and
// both object stores. The distributed run must end with the same model bytes as simulate.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "cli_run.h"
#include "fedsilo/simulate.h"
#include "test_services.h"

using namespace fedsilo;
using namespace std::chrono_literals;

TEST(Distributed, SilosFirstDirectoryStoreMatchesSimulateBitForBit) {
  testutil::Broker broker;
  testutil::CliRun run(broker);
  run.use_directory_store();
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
  auto server = run.start("server", 0);
  EXPECT_EQ(testutil::finish(*server, run, "server", 0), 0) << run.output("server", 0);
  EXPECT_EQ(testutil::finish(*silo1, run, "client", 1), 0) << run.output("client", 1);
  EXPECT_EQ(testutil::finish(*silo2, run, "client", 2), 0) << run.output("client", 2);
  EXPECT_EQ(run.rounds_done(), 6u);
  EXPECT_EQ(run.final_model(), run.simulated_model());
}

TEST(Distributed, ServerFirstS3MatchesSimulateBitForBit) {
  testutil::Broker broker;
  testutil::S3Server s3;
  testutil::CliRun run(broker);
  run.use_s3(s3);
  testutil::run_server_and_two_silos(run);
  EXPECT_EQ(run.final_model(), run.simulated_model());
}

TEST(Distributed, OptimizersDefensesAndAttacksMatchSimulateBitForBit) {
  // The server's rules (FedOpt's moments, FedNova's local steps from the silos' messages, a
  // defense, SCAFFOLD's control variates) and the silo's (FedProx, an attack, SCAFFOLD's
  // correction) run the same code in both modes.
  testutil::Broker broker;
  const std::vector<std::vector<std::string>> configs = {
      {"train_args.federated_optimizer=FedProx", "train_args.fedprox_mu=0.1",
       "attack_args.enable_attack=true", "attack_args.attack_type=label_flipping",
       "attack_args.byzantine_client_num=1", "attack_args.original_class_list=[0, 1]",
       "attack_args.target_class_list=[1, 0]", "defense_args.enable_defense=true",
       "defense_args.defense_type=norm_diff_clipping", "defense_args.norm_bound=0.5"},
      {"train_args.federated_optimizer=FedNova"},
      {"train_args.federated_optimizer=FedOpt", "train_args.server_optimizer=adam",
       "train_args.server_lr=0.05"},
      // The server's corrections travel beside the global model and steer the silos' steps.
      {"train_args.federated_optimizer=SCAFFOLD", "train_args.weight_decay=0"},
  };
  for (const auto& sets : configs) {
    testutil::CliRun run(broker, sets);
    run.use_directory_store();
    testutil::run_server_and_two_silos(run);
    EXPECT_TRUE(run.final_model() == run.simulated_model(sets)) << sets[0];
  }
}

TEST(Distributed, SurvivesABrokerRestartWithTheSameFinalModel) {
  testutil::Broker broker;
  // Slow rounds (many epochs) so the broker dies mid-run.
  std::vector<std::string> slow = {"train_args.epochs=40", "train_args.comm_round=12"};
  testutil::CliRun run(broker, slow);
  run.use_directory_store();
  auto server = run.start("server", 0);
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (run.rounds_done() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  ASSERT_GE(run.rounds_done(), 2u);
  ASSERT_LT(run.rounds_done(), 12u) << "the run ended before the broker could be stopped";
  broker.stop();
  broker.start();
  EXPECT_EQ(testutil::finish(*server, run, "server", 0), 0) << run.output("server", 0);
  EXPECT_EQ(testutil::finish(*silo1, run, "client", 1), 0) << run.output("client", 1);
  EXPECT_EQ(testutil::finish(*silo2, run, "client", 2), 0) << run.output("client", 2);
  EXPECT_NE(run.output("server", 0).find("reconnected"), std::string::npos);
  EXPECT_EQ(run.final_model(), run.simulated_model(slow));
}

TEST(Distributed, ADeadSiloEndsTheRunLoudlyWithinTheDeadline) {
  testutil::Broker broker;
  testutil::CliRun run(broker, {"train_args.epochs=40", "train_args.comm_round=50"});
  run.use_directory_store();
  run.sets_.push_back("comm_args.round_timeout_s=3");
  auto server = run.start("server", 0);
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (run.rounds_done() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  silo2->signal(SIGKILL);
  EXPECT_EQ(testutil::finish(*server, run, "server", 0), 3) << run.output("server", 0);
  EXPECT_EQ(testutil::finish(*silo1, run, "client", 1), 4) << run.output("client", 1);
  auto out = run.output("server", 0);
  EXPECT_NE(out.find("silo 2 went OFFLINE"), std::string::npos) << out;
  EXPECT_NE(out.find("deadline passed while waiting for silos [2]"), std::string::npos) << out;
  EXPECT_NE(run.output("client", 1).find("the server aborted the run"), std::string::npos);
}
