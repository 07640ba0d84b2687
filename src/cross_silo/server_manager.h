#pragma once
// The server's side of the round protocol (DESIGN.md §2) as a state machine: the driver feeds it
// messages and asks it when its current wait expires; it never blocks and never reads a clock
// except through `Clock`, so simulate and the distributed server run the same code.
#include <spdlog/logger.h>
#include <chrono>
#include <functional>
#include <memory>
#include <set>

#include "comm/object_store.h"
#include "comm/transport.h"
#include "cross_silo/run_recorder.h"
#include "fedsilo/aggregator.h"
#include "fedsilo/args.h"
#include "fedsilo/model.h"

namespace fedsilo::cross_silo {

using Clock = std::chrono::steady_clock;

// Server-side evaluation of the global model; returns metrics such as test_acc, test_loss,
// train_acc, train_loss.
using Evaluate = std::function<nlohmann::json(Model& model, int64_t round)>;

class ServerManager {
 public:
  ServerManager(const Args& args, Model model, comm::Transport& transport, comm::ObjectStore& store,
                Evaluate evaluate, std::unique_ptr<Aggregator> aggregator = nullptr);

  void start();
  void handle(const comm::Message& m);
  bool done() const { return state_ == State::kDone; }

  // The current wait, for log lines ("silos 1, 2 to report round 7") and its deadline.
  std::string waiting_for() const;
  Clock::time_point deadline() const { return deadline_; }
  // Called by the driver when deadline() has passed: tells the silos to stop, then throws
  // TimeoutError naming what was awaited.
  [[noreturn]] void on_deadline();
  // After a reconnect to the broker, or a wait of resend_interval_s without progress: sends the
  // current request again (as new messages) to the silos it still waits for.
  void resend();
  // Stops the run early (interrupted): FINISH with status ABORTED to every silo.
  void abort(const std::string& why);

  Model& model() { return model_; }
  const std::string& output_dir() const { return recorder_.dir(); }
  const nlohmann::json& last_metrics() const { return last_metrics_; }

 private:
  enum class State { kWaitingOnline, kTraining, kDone };
  void on_status(const comm::Message& m);
  void on_model(const comm::Message& m);
  void start_round(int64_t round);
  void finish_round();
  void finish_run();
  void send_round_request(int64_t silo);
  void retire_blobs(int64_t round);
  comm::Message make(comm::MsgType type, int64_t receiver);
  std::string global_key(int64_t round) const;

  Args args_;
  Model model_;
  comm::Transport& transport_;
  comm::ObjectStore& store_;
  Evaluate evaluate_;
  std::unique_ptr<Aggregator> aggregator_;
  RunRecorder recorder_;
  std::shared_ptr<spdlog::logger> log_;

  State state_ = State::kWaitingOnline;
  std::set<int64_t> online_;
  int64_t round_ = -1;
  std::vector<int64_t> selected_;
  std::map<int64_t, int64_t> data_index_;  // silo -> data silo index this round
  std::set<int64_t> pending_;
  comm::BlobRef global_ref_;
  std::map<int64_t, std::vector<std::string>> blobs_;  // round -> keys still in the store
  StateDict layout_;
  Clock::time_point deadline_;
  Clock::time_point run_start_, round_start_;
  nlohmann::json round_record_;
  nlohmann::json last_metrics_;
  double last_test_acc_ = -1;
  int64_t seq_ = 0;
  std::string nonce_;
};

}  // namespace fedsilo::cross_silo
