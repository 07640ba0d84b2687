// The server and silos as separate processes of the `fedsilo` tool, over a real mosquitto and
// both object stores. The distributed run must end with the same model bytes as simulate.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "fedsilo/simulate.h"
#include "test_services.h"

using namespace fedsilo;
using namespace std::chrono_literals;

namespace {

class DistRun {
 public:
  DistRun(const testutil::Broker& broker, std::vector<std::string> sets = {}) {
    testutil::make_synthetic_mnist(dir_.path(), 300, 60);
    config_ = dir_ / "fedml_config.yaml";
    std::ofstream(config_) << testutil::small_config_yaml(dir_.path(), dir_ / "log");
    sets_ = std::move(sets);
    sets_.push_back("comm_args.backend=MQTT_S3");
    sets_.push_back("comm_args.mqtt_config_path=" + broker.write_config(dir_.path()));
    sets_.push_back("comm_args.round_timeout_s=60");
    sets_.push_back("comm_args.online_timeout_s=60");
    sets_.push_back("comm_args.resend_interval_s=2");
  }
  void use_directory_store() {
    sets_.push_back("comm_args.object_store=file://" + (dir_ / "blobs"));
  }
  void use_s3(const testutil::S3Server& s3) {
    sets_.push_back("comm_args.object_store=s3");
    sets_.push_back("comm_args.s3_config_path=" + s3.write_config(dir_.path()));
  }
  std::unique_ptr<Subprocess> start(const std::string& role, int rank) {
    std::vector<std::string> argv = {FEDSILO_CLI,          role,       "--cf", config_, "--rank",
                                     std::to_string(rank), "--run_id", "dist"};
    for (const auto& s : sets_) {
      argv.push_back("--set");
      argv.push_back(s);
    }
    Subprocess::Options o;
    o.output_file = dir_ / (role + std::to_string(rank) + ".out");
    return std::make_unique<Subprocess>(argv, o);
  }
  std::string output(const std::string& role, int rank) {
    return testutil::read_file(dir_ / (role + std::to_string(rank) + ".out"));
  }
  std::string final_model() {
    return testutil::read_file(dir_ / "log/run_dist/final_model.safetensors");
  }
  size_t rounds_done() {
    std::ifstream in(dir_ / "log/run_dist/metrics.jsonl");
    return std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n');
  }
  std::string simulated_model(const std::vector<std::string>& extra = {}) {
    auto args = testutil::small_args(dir_.path(), dir_ / "sim", extra);
    return testutil::read_file(simulate(args).output_dir + "/final_model.safetensors");
  }
  testutil::TempDir dir_;
  std::string config_;
  std::vector<std::string> sets_;
};

int finish(Subprocess& p, DistRun& run, const std::string& role, int rank) {
  auto code = p.wait_for(120s);
  EXPECT_TRUE(code.has_value()) << role << " " << rank << " still runs:\n"
                                << run.output(role, rank);
  return code.value_or(-1);
}

}  // namespace

TEST(Distributed, SilosFirstDirectoryStoreMatchesSimulateBitForBit) {
  testutil::Broker broker;
  DistRun run(broker);
  run.use_directory_store();
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
  auto server = run.start("server", 0);
  EXPECT_EQ(finish(*server, run, "server", 0), 0) << run.output("server", 0);
  EXPECT_EQ(finish(*silo1, run, "client", 1), 0) << run.output("client", 1);
  EXPECT_EQ(finish(*silo2, run, "client", 2), 0) << run.output("client", 2);
  EXPECT_EQ(run.rounds_done(), 6u);
  EXPECT_EQ(run.final_model(), run.simulated_model());
}

TEST(Distributed, ServerFirstS3MatchesSimulateBitForBit) {
  testutil::Broker broker;
  testutil::S3Server s3;
  DistRun run(broker);
  run.use_s3(s3);
  auto server = run.start("server", 0);
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
  EXPECT_EQ(finish(*server, run, "server", 0), 0) << run.output("server", 0);
  EXPECT_EQ(finish(*silo1, run, "client", 1), 0) << run.output("client", 1);
  EXPECT_EQ(finish(*silo2, run, "client", 2), 0) << run.output("client", 2);
  EXPECT_EQ(run.final_model(), run.simulated_model());
}

TEST(Distributed, SurvivesABrokerRestartWithTheSameFinalModel) {
  testutil::Broker broker;
  // Slow rounds (many epochs) so the broker dies mid-run.
  std::vector<std::string> slow = {"train_args.epochs=40", "train_args.comm_round=12"};
  DistRun run(broker, slow);
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
  EXPECT_EQ(finish(*server, run, "server", 0), 0) << run.output("server", 0);
  EXPECT_EQ(finish(*silo1, run, "client", 1), 0) << run.output("client", 1);
  EXPECT_EQ(finish(*silo2, run, "client", 2), 0) << run.output("client", 2);
  EXPECT_NE(run.output("server", 0).find("reconnected"), std::string::npos);
  EXPECT_EQ(run.final_model(), run.simulated_model(slow));
}

TEST(Distributed, ADeadSiloEndsTheRunLoudlyWithinTheDeadline) {
  testutil::Broker broker;
  DistRun run(broker, {"train_args.epochs=40", "train_args.comm_round=50"});
  run.use_directory_store();
  run.sets_.push_back("comm_args.round_timeout_s=3");
  auto server = run.start("server", 0);
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (run.rounds_done() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  silo2->signal(SIGKILL);
  EXPECT_EQ(finish(*server, run, "server", 0), 3) << run.output("server", 0);
  EXPECT_EQ(finish(*silo1, run, "client", 1), 4) << run.output("client", 1);
  auto out = run.output("server", 0);
  EXPECT_NE(out.find("silo 2 went OFFLINE"), std::string::npos) << out;
  EXPECT_NE(out.find("deadline passed while waiting for silos [2]"), std::string::npos) << out;
  EXPECT_NE(run.output("client", 1).find("the server aborted the run"), std::string::npos);
}
