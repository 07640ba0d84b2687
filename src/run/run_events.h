#pragma once
// What happens in a run, as the server's protocol engine tells it: one stream of events that
// the run's outputs subscribe to (the RunRecorder's metrics.jsonl and report.html, the live
// dashboard and TensorBoard through RunMonitoring, a user's own observer). The engine knows the
// stream, not who listens.
#include <cstdint>
#include <string>
#include <vector>

#include "run/round_stats.h"

namespace fedsilo::cross_silo {

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // What the server is doing: "waiting for silos", "completed", "aborted: <why>".
  virtual void set_state(const std::string& /*state*/) {}
  virtual void resumed(int64_t /*rounds_done*/) {}
  virtual void round_started(int64_t /*round*/, const std::vector<int64_t>& /*asked*/) {}
  virtual void silo_seen(int64_t /*silo*/) {}
  virtual void silo_offline(int64_t /*silo*/) {}
  // A CLIENT_STATUS other than ONLINE / OFFLINE: TRAINING or UPLOADING for `round`.
  virtual void silo_progress(int64_t /*silo*/, int64_t /*round*/, const std::string& /*status*/) {}
  virtual void silo_reported(int64_t /*round*/, const SiloRoundStats& /*s*/,
                             int64_t /*bytes_moved*/) {}
  // After the round's checkpoint: a crash before this event is mended from the checkpoint.
  virtual void round_finished(const RoundStats& /*stats*/, int64_t /*bytes_up*/,
                              int64_t /*bytes_down*/) {}
  // The run's end (`status`: "completed" or "aborted: <why>").
  virtual void run_ended(const std::string& /*status*/) {}
};

// The stream: each event goes to every subscriber, in the order they subscribed.
class RunEvents : public RunObserver {
 public:
  void subscribe(RunObserver& observer) { observers_.push_back(&observer); }

  void set_state(const std::string& state) override {
    for (auto* o : observers_) o->set_state(state);
  }
  void resumed(int64_t rounds_done) override {
    for (auto* o : observers_) o->resumed(rounds_done);
  }
  void round_started(int64_t round, const std::vector<int64_t>& asked) override {
    for (auto* o : observers_) o->round_started(round, asked);
  }
  void silo_seen(int64_t silo) override {
    for (auto* o : observers_) o->silo_seen(silo);
  }
  void silo_offline(int64_t silo) override {
    for (auto* o : observers_) o->silo_offline(silo);
  }
  void silo_progress(int64_t silo, int64_t round, const std::string& status) override {
    for (auto* o : observers_) o->silo_progress(silo, round, status);
  }
  void silo_reported(int64_t round, const SiloRoundStats& s, int64_t bytes_moved) override {
    for (auto* o : observers_) o->silo_reported(round, s, bytes_moved);
  }
  void round_finished(const RoundStats& stats, int64_t bytes_up, int64_t bytes_down) override {
    for (auto* o : observers_) o->round_finished(stats, bytes_up, bytes_down);
  }
  void run_ended(const std::string& status) override {
    for (auto* o : observers_) o->run_ended(status);
  }

 private:
  std::vector<RunObserver*> observers_;
};

}  // namespace fedsilo::cross_silo
