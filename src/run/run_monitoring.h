#pragma once
// What tracking_args asks the server to show while a run goes on (docs/monitoring.md): the live
// dashboard with /api/status and /metrics (dashboard_port) and TensorBoard scalars
// (tensorboard_dir). It subscribes to the server's RunEvents; with both off every event returns
// at once.
#include <spdlog/common.h>

#include <memory>

#include "fedsilo/args.h"
#include "monitor/dashboard_server.h"
#include "monitor/run_status.h"
#include "monitor/tensorboard_writer.h"
#include "run/round_stats.h"
#include "run/run_events.h"

namespace fedsilo::cross_silo {

class RunMonitoring : public RunObserver {
 public:
  // Starts the dashboard and opens the events file. Throws ConfigError when the dashboard cannot
  // listen or needs a token it lacks, StoreError when tensorboard_dir cannot be written.
  explicit RunMonitoring(const Args& args);
  ~RunMonitoring() override;

  void set_state(const std::string& state) override;
  void resumed(int64_t rounds_done) override;
  void round_started(int64_t round, const std::vector<int64_t>& asked) override;
  void silo_seen(int64_t silo) override;
  void silo_offline(int64_t silo) override;
  // A CLIENT_STATUS other than ONLINE / OFFLINE: TRAINING or UPLOADING for `round`.
  void silo_progress(int64_t silo, int64_t round, const std::string& status) override;
  void silo_reported(int64_t round, const SiloRoundStats& s, int64_t bytes_moved) override;
  void round_finished(const RoundStats& stats, int64_t bytes_up, int64_t bytes_down) override;
  // After the run: keeps the dashboard up dashboard_linger_s so the final state can be read; a
  // signal ends the wait.
  void linger();

  const monitor::DashboardServer* dashboard() const { return dashboard_.get(); }
  // /metrics counts the messages the server dropped from `source` (the transport's).
  void count_dropped_messages(monitor::RunStatus::CountSource source) {
    if (status_) status_->set_dropped_messages_source(std::move(source));
  }

 private:
  double linger_s_;  // tracking_args.dashboard_linger_s
  std::shared_ptr<monitor::RunStatus> status_;
  std::unique_ptr<monitor::DashboardServer> dashboard_;
  std::unique_ptr<monitor::TensorBoardWriter> tensorboard_;
  spdlog::sink_ptr log_sink_;
};

}  // namespace fedsilo::cross_silo
