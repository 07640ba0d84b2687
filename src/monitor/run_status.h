#pragma once
// The live state of a run as the server sees it, for the dashboard, /api/status and /metrics
// (docs/monitoring.md). The server's thread writes it at each protocol step; the HTTP server's
// threads read snapshots. Every call takes one short lock and allocates little, so the round's
// critical path does not feel it.
#include <nlohmann/json.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace fedsilo::monitor {

enum class SiloState { kWaiting, kOnline, kTraining, kUploading, kOffline, kDropped };
const char* to_string(SiloState s);

// One silo's figures for a round it contributed to.
struct SiloReport {
  int64_t round = 0;
  double train_ms = 0;
  double transfer_ms = 0;  // its download of the global model + upload of its own
  int64_t bytes = 0;       // both blobs
  bool rejected = false;
  nlohmann::json system = nlohmann::json::object();  // sanitize_system_metrics()
};

// What a finished round adds to the curves.
struct RoundPoint {
  int64_t round = 0;
  double round_s = 0;
  std::optional<double> test_acc, test_loss, train_acc, train_loss;
};

class RunStatus {
 public:
  RunStatus(std::string run_id, int64_t total_rounds, const std::vector<int>& silos);

  // "waiting for silos", "training", "completed", "aborted: <why>", ...
  void set_state(const std::string& state);
  // A resumed server: rounds before `rounds_done` happened in an earlier process.
  void resumed(int64_t rounds_done);
  void round_started(int64_t round);
  void silo_state(int64_t silo, SiloState s);
  // Any message from the silo: it is there (offline or waiting becomes online).
  void silo_seen(int64_t silo);
  // A progress report (training / uploading) for `round`: ignored when that silo's update for
  // the round is already in, since reports can arrive after the update they precede.
  void silo_progress(int64_t silo, int64_t round, SiloState s);
  void silo_reported(int64_t silo, const SiloReport& r);
  void round_finished(const RoundPoint& p, int64_t bytes_up, int64_t bytes_down);
  // Warnings and errors from the log, newest last (the last 50 are kept).
  void log_line(const std::string& level, const std::string& text);

  // /api/status.
  nlohmann::json snapshot() const;
  // /metrics: the Prometheus text exposition format, version 0.0.4.
  std::string prometheus() const;
  // Where /metrics reads the messages the server's transport dropped, by reason. Called without
  // this object's lock held: the source may log, and logging reaches log_line.
  using CountSource = std::function<std::map<std::string, uint64_t>()>;
  void set_dropped_messages_source(CountSource source);

  static const std::vector<double>& duration_buckets();

 private:
  struct Silo {
    SiloState state = SiloState::kWaiting;
    std::optional<std::chrono::system_clock::time_point> last_seen;
    int64_t rounds_contributed = 0;
    int64_t last_reported_round = -1;
    double last_train_ms = 0, last_transfer_ms = 0, train_s_total = 0;
    int64_t bytes = 0;
    nlohmann::json system = nlohmann::json::object();
  };
  Silo& silo(int64_t id);

  mutable std::mutex mu_;
  mutable std::mutex source_mu_;  // apart from mu_: the source is called without mu_
  CountSource dropped_source_;
  std::string run_id_;
  int64_t total_rounds_;
  std::string state_ = "starting";
  std::chrono::system_clock::time_point started_;
  std::optional<std::chrono::system_clock::time_point> ended_;
  int64_t round_ = -1;
  int64_t rounds_completed_ = 0;  // in this process and, after a resume, before it
  std::map<int64_t, Silo> silos_;
  std::vector<RoundPoint> curve_;
  std::vector<uint64_t> duration_counts_;  // per bucket, not cumulative
  double duration_sum_s_ = 0;
  uint64_t duration_count_ = 0;
  int64_t bytes_up_ = 0, bytes_down_ = 0;
  std::optional<double> last_test_acc_, last_test_loss_;
  std::deque<nlohmann::json> log_;
};

}  // namespace fedsilo::monitor
