#pragma once
// Runs the `fedsilo` tool as separate processes (server, silos, launchers) on a small generated
// data set, against a test broker and store, and reads what they leave behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "build_paths.h"
#include "fedsilo/simulate.h"
#include "test_services.h"

namespace fedsilo::testutil {

class CliRun {
 public:
  CliRun(const Broker& broker, std::vector<std::string> sets = {}) {
    make_synthetic_mnist(dir_.path(), 300, 60);
    config_ = dir_ / "fedml_config.yaml";
    std::ofstream(config_) << small_config_yaml(dir_.path(), dir_ / "log");
    sets_ = {"comm_args.backend=MQTT_S3",
             "comm_args.mqtt_config_path=" + broker.write_config(dir_.path()),
             "comm_args.round_timeout_s=60", "comm_args.online_timeout_s=60",
             "comm_args.resend_interval_s=2"};
    sets_.insert(sets_.end(), sets.begin(), sets.end());  // the test's own values win
  }
  std::map<std::string, std::string> env_;  // added to every process's environment
  std::string run_id_ = "dist";
  std::vector<std::string> wrap_;  // a command the next processes run under (e.g. unshare)
  void use_directory_store() {
    sets_.push_back("comm_args.object_store=file://" + (dir_ / "blobs"));
  }
  void use_s3(const S3Server& s3) {
    sets_.push_back("comm_args.object_store=s3");
    sets_.push_back("comm_args.s3_config_path=" + s3.write_config(dir_.path()));
  }
  // `extra` goes after the shared options (a later --set wins); `tag` names the output file.
  std::unique_ptr<Subprocess> start(const std::string& role, int rank,
                                    const std::vector<std::string>& extra = {},
                                    const std::string& tag = "") {
    std::vector<std::string> argv = {
        fedsilo::build_paths::cli(), role,       "--cf", config_, "--rank",
        std::to_string(rank),        "--run_id", run_id_};
    for (const auto& s : sets_) {
      argv.push_back("--set");
      argv.push_back(s);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.begin(), wrap_.begin(), wrap_.end());
    Subprocess::Options o;
    o.output_file = dir_ / (role + std::to_string(rank) + tag + ".out");
    o.env = env_;
    return std::make_unique<Subprocess>(argv, o);
  }
  std::string output(const std::string& role, int rank, const std::string& tag = "") {
    return read_file(dir_ / (role + std::to_string(rank) + tag + ".out"));
  }

  std::string run_dir() const { return dir_ / ("log/run_" + run_id_); }
  std::string final_model() { return read_file(run_dir() + "/final_model.safetensors"); }
  size_t rounds_done() {
    std::ifstream in(run_dir() + "/metrics.jsonl");
    return std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n');
  }
  std::string simulated_model(const std::vector<std::string>& extra = {}) {
    auto args = small_args(dir_.path(), dir_ / "sim", extra);
    return read_file(simulate(args).output_dir + "/final_model.safetensors");
  }
  TempDir dir_;
  std::string config_;
  std::vector<std::string> sets_;
};

// Waits (with a deadline) until the run has recorded `rounds` rounds.
inline void wait_for_rounds(CliRun& run, size_t rounds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (run.rounds_done() < rounds && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GE(run.rounds_done(), rounds) << run.output("server", 0);
}

// Waits (with a deadline) until `role` `rank`'s output holds `text`; false at the deadline.
inline bool wait_for_output(CliRun& run, const std::string& role, int rank,
                            const std::string& text) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (run.output(role, rank).find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

inline int finish(Subprocess& p, CliRun& run, const std::string& role, int rank,
                  const std::string& tag = "") {
  auto code = p.wait_for(std::chrono::seconds(120));
  EXPECT_TRUE(code.has_value()) << role << " " << rank << " still runs:\n"
                                << run.output(role, rank, tag);

  return code.value_or(-1);
}

// The seed topology end to end: starts the server and silos 1 and 2, and expects each to exit
// with 0.
inline void run_server_and_two_silos(CliRun& run) {
  auto server = run.start("server", 0);
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
  EXPECT_EQ(finish(*server, run, "server", 0), 0) << run.output("server", 0);
  EXPECT_EQ(finish(*silo1, run, "client", 1), 0) << run.output("client", 1);
  EXPECT_EQ(finish(*silo2, run, "client", 2), 0) << run.output("client", 2);
}

}  // namespace fedsilo::testutil
