#pragma once
// What a run leaves behind in Args::run_output_dir(): metrics.jsonl (one JSON object per round,
// written as the round ends), the progress log line per round, report.html and
// final_model.safetensors. A restarted server appends: nothing a run wrote is ever destroyed.
#include <nlohmann/json.hpp>

#include <spdlog/logger.h>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include "core/folder_lock.h"
#include "fedsilo/args.h"
#include "fedsilo/state_dict.h"
#include "run/round_stats.h"
#include "run/run_events.h"

namespace fedsilo::cross_silo {
struct ServerCheckpoint;

class RunRecorder : public RunObserver {
 public:
  explicit RunRecorder(const Args& args);
  // Opens metrics.jsonl. A fresh run (`resumed` null) refuses a folder whose metrics.jsonl
  // already holds rounds (ConfigError: its checkpoint.json is missing). A resumed run keeps every
  // complete line, cuts a line a crash left half-written, and appends `resumed->record` when
  // the crash came between the checkpoint and its metrics line.
  void open(const ServerCheckpoint* resumed);
  // Records a finished round: a metrics.jsonl line and a progress line with the ETA.
  void round(const RoundStats& stats);
  // Writes report.html from the rounds so far; `status` says how the run ended.
  std::string report(const std::string& status);
  // As a subscriber of the server's RunEvents: a finished round is recorded, the run's end
  // writes the report.
  void round_finished(const RoundStats& stats, int64_t, int64_t) override { round(stats); }
  void run_ended(const std::string& status) override { report(status); }
  // Writes the model atomically (temporary file + rename); returns its path.
  std::string final_model(const StateDict& state);
  const std::string& dir() const { return dir_; }
  // Rounds recorded (this process's and those before a restart) that made a new global model.
  int64_t rounds_with_new_model() const;
  size_t rounds_recorded() const { return rounds_.size(); }

 private:
  void append(const nlohmann::json& record);
  int64_t comm_round_;
  std::shared_ptr<spdlog::logger> log_;
  double last_test_acc_ = -1;
  std::string dir_;
  std::unique_ptr<FolderLock> lock_;  // held while this server writes the folder
  std::ofstream metrics_;
  nlohmann::json config_;
  std::vector<nlohmann::json> rounds_;
  std::string metrics_path_;
};

}  // namespace fedsilo::cross_silo
