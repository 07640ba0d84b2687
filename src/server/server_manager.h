#pragma once
// The server's side of the round protocol (docs/protocol.md) as a state machine: the driver
// feeds it messages and asks it when its current wait expires; it never blocks and reads time
// only through its Clock, so simulate, the distributed server and the tests run the same code.
#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <set>

#include "comm/object_store.h"
#include "comm/transport.h"
#include "core/clock.h"
#include "fedsilo/aggregator.h"
#include "fedsilo/args.h"
#include "fedsilo/model.h"
#include "protocol/driver_loop.h"
#include "run/round_stats.h"
#include "run/run_events.h"
#include "run/run_monitoring.h"
#include "run/run_recorder.h"
#include "run/server_checkpoint.h"
#include "server/round_exchange.h"
#include "server/round_strategy.h"

namespace fedsilo::cross_silo {

// As fedsilo/cross_silo.h's (the public API's, a layer above): the global model's evaluation.
using Evaluator = std::function<nlohmann::json(Model& model, int64_t round)>;

class ServerManager : public DrivenMachine {
 public:
  // A null `aggregator` means the one registry::aggregators() has for federated_optimizer.
  ServerManager(const Args& args, Model model, comm::Transport& transport, comm::ObjectStore& store,
                Evaluator evaluate, std::unique_ptr<Aggregator> aggregator = nullptr,
                Clock& clock = steady_clock());

  // Resumes from the run's checkpoint when there is one (docs/protocol.md "Server restart"):
  // a finished run only tells the silos again and is done. Throws ConfigError naming a corrupt
  // checkpoint, or a folder with rounds but no checkpoint.
  void start();
  void handle(const comm::Message& m) override;
  bool done() const override { return state_ == State::kDone; }
  ExitCode exit_code() const override { return exit_code_; }

  // The current wait, for log lines ("silos 1, 2 to report round 7") and its deadline.
  std::string waiting_for() const override;
  Clock::time_point deadline() const override {
    return state_ == State::kTraining ? exchange_->deadline() : deadline_;
  }
  // The deadline passed. Waiting for silos to come online: starts with those online when they
  // are a quorum. In a round: closes it with the models in when they are a quorum, else asks
  // the missing silos again (comm_args.round_retries), else tells every silo to stop
  // (ExitCode::kDeadline).
  void on_deadline() override;
  // After a reconnect: sends the current request again (as new messages) to the silos it still
  // waits for. After a quiet spell (`only_quiet`): only to those that have reported no progress
  // for resend_interval_s; a silo still moving bytes or training is not asked again.
  void resend(bool only_quiet = false);
  void on_reconnect() override { resend(); }
  void on_quiet() override { resend(true); }
  ExitCode on_signal(int sig) override;
  // Stops the run early: FINISH with status ABORTED to every silo, and exit_code() = `code`.
  void abort(const std::string& why, ExitCode code = ExitCode::kAborted);

  // Sample counts of the data silos (data silo index -> samples), when the server knows the
  // partition: a silo's num_samples (its FedAvg weight) may not exceed its data silo's size.
  void set_data_silo_sizes(std::map<int64_t, int64_t> sizes);

  Model& model() { return model_; }
  const std::string& output_dir() const { return recorder_.dir(); }
  const nlohmann::json& last_metrics() const { return last_metrics_; }
  RunMonitoring& monitoring() { return *monitoring_; }
  // Adds an observer of the run's events (after the recorder and the monitoring).
  void subscribe(RunObserver& observer) { events_.subscribe(observer); }

 private:
  enum class State { kWaitingOnline, kTraining, kDone };
  void on_status(const comm::Message& m);
  // SEND_MODEL and secure aggregation's SA_* messages: the round exchange's.
  void on_round_message(const comm::Message& m);
  // Acts on what the exchange's round came to: finishes it, or ends the run.
  void settle();
  void start_round(int64_t round);
  void finish_round();
  void resume(const CheckpointFiles::Loaded& loaded);
  void save_checkpoint(bool finished, const BlobRef& final_model = {});
  void finish_run();
  void send_round_request(int64_t silo);
  // The strategy's payload for `silo` this round (SCAFFOLD's correction), put in the store
  // once a round and silo; empty for rules without one.
  BlobRef payload_ref(int64_t silo);
  void retire_blobs(int64_t round);
  // put_model, tried again with backoff (about 15 s in all) on a StoreError: a store that
  // restarts or answers 503 for a moment does not end the run; one that stays down does.
  BlobRef put_with_retries(const std::string& key, const StateDict& state);
  comm::Message make(comm::MsgType type, int64_t receiver);
  RoundContext round_context();
  double ms_since(Clock::time_point t) const;

  Args args_;
  Model model_;
  comm::Transport& transport_;
  comm::ObjectStore& store_;
  Evaluator evaluate_;
  Clock& clock_;
  RunRecorder recorder_;
  std::unique_ptr<RunMonitoring> monitoring_;
  RunEvents events_;  // the recorder, the monitoring, then whoever subscribes
  CheckpointFiles checkpoint_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<RoundStrategy> strategy_;  // the rule: what silos get, how updates combine
  std::unique_ptr<RoundExchange> exchange_;  // how the updates come: plain or secure

  State state_ = State::kWaitingOnline;
  ExitCode exit_code_ = ExitCode::kCompleted;
  std::set<int64_t> online_;
  int64_t round_ = -1;
  std::vector<int64_t> selected_;
  std::map<int64_t, int64_t> data_index_;  // silo -> data silo index this round
  std::set<int64_t> asked_;                // silos sent this round's request (not the offline ones)
  BlobRef global_ref_;
  std::map<int64_t, BlobRef> payload_refs_;            // silo -> this round's payload
  std::map<int64_t, std::vector<std::string>> blobs_;  // round -> keys still in the store
  StateDict layout_;
  std::map<int64_t, int64_t> data_silo_sizes_;
  Clock::time_point deadline_;  // while waiting for silos to come online
  Clock::time_point run_start_, round_start_;
  RoundStats stats_;
  nlohmann::json last_metrics_;
  nlohmann::json last_record_;  // the last completed round's metrics.jsonl line
  nlohmann::json run_config_;   // the config the run started with (checkpointed)
  comm::MessageIds ids_;
};

}  // namespace fedsilo::cross_silo
