#include "run/run_recorder.h"

#include <filesystem>
#include <sstream>

#include "core/args_json.h"
#include "core/file_write.h"
#include "core/folder_lock.h"
#include "core/log.h"
#include "run/run_report.h"
#include "run/server_checkpoint.h"
#include "fedsilo/error.h"
#include "ml/model_blob.h"

namespace fedsilo::cross_silo {
namespace fs = std::filesystem;

RunRecorder::RunRecorder(const Args& args)
    : comm_round_(args.comm_round),
      log_(logging::role_logger("Server", 0)),
      dir_(args.run_output_dir()),
      config_(args_to_json(args)),
      metrics_path_((fs::path(dir_) / "metrics.jsonl").string()) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw StoreError("output folder " + dir_ + ": cannot be created: " + ec.message());
  lock_ = std::make_unique<FolderLock>(dir_);
  // Only now, with the folder ours: what a killed writer of this run left half-written.
  if (int n = remove_stale_temporaries(dir_))
    FS_LOG_INFO(log_, "{}: removed {} temporary files a killed server left behind", dir_, n);
}

void RunRecorder::open(const ServerCheckpoint* resumed) {
  std::string text;
  if (std::ifstream in(metrics_path_, std::ios::binary); in) {
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  size_t complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  if (!resumed && complete > 0) {
    throw ConfigError("output folder " + dir_ + " already holds the rounds of run " +
                      config_["run"].value("run_id", "") + " in metrics.jsonl, but no " +
                      "checkpoint.json to resume from; nothing is overwritten: start with "
                      "another --run_id, or move the folder away");
  }
  if (complete < text.size()) {
    FS_LOG_WARN(log_, "{}: cutting a half-written last line ({} bytes) left by a crash",
                metrics_path_, text.size() - complete);
    fs::resize_file(metrics_path_, complete);
  }
  int64_t last_round = -1;
  std::istringstream lines(text.substr(0, complete));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    try {
      rounds_.push_back(nlohmann::json::parse(line));
      last_round = rounds_.back().value("round", last_round);
    } catch (const nlohmann::json::exception& e) {
      FS_LOG_WARN(log_, "{}: a line is not JSON and is left out of report.html ({})", metrics_path_,
                  e.what());
    }
  }
  metrics_.open(metrics_path_, std::ios::app);
  if (!metrics_) throw StoreError("output file " + metrics_path_ + ": cannot be written");
  if (resumed && resumed->round >= 0 && last_round < resumed->round) append(resumed->record);
  // A diverged evaluation wrote NaN, which JSON keeps as null: not a figure to go on from.
  for (auto it = rounds_.rbegin(); it != rounds_.rend(); ++it) {
    if (it->is_object() && it->contains("test_acc") && (*it)["test_acc"].is_number()) {
      last_test_acc_ = (*it)["test_acc"].get<double>();
      break;
    }
  }
}

void RunRecorder::append(const nlohmann::json& record) {
  metrics_ << record.dump() << '\n';
  metrics_.flush();
  if (!metrics_) throw StoreError("output file " + metrics_path_ + ": cannot be written");
  rounds_.push_back(record);
}

void RunRecorder::round(const RoundStats& stats) {
  append(stats.to_json());
  if (stats.metrics.contains("test_acc") && stats.metrics["test_acc"].is_number())
    last_test_acc_ = stats.metrics["test_acc"].get<double>();
  int64_t done = stats.round + 1;
  double eta =
      stats.elapsed_s / static_cast<double>(done) * static_cast<double>(comm_round_ - done);
  std::vector<int64_t> dropped;
  for (const auto& [silo, why] : stats.dropped) dropped.push_back(silo);
  FS_LOG_INFO(log_,
              "progress: round {}/{} | silos {}/{}{} | elapsed {:.2f} s | round {:.1f} ms | ETA "
              "{:.1f} s | test_acc {}",
              done, comm_round_, stats.silos.size(), stats.selected.size(),
              dropped.empty() ? "" : fmt::format(" (dropped [{}])", fmt::join(dropped, ", ")),
              stats.elapsed_s, stats.round_ms, eta,
              last_test_acc_ < 0 ? std::string("-") : fmt::format("{:.4f}", last_test_acc_));
}

std::string RunRecorder::report(const std::string& status) {
  auto path = (fs::path(dir_) / "report.html").string();
  write_file_atomically(path, render_report(config_, rounds_, status), 0644);
  return path;
}

std::string RunRecorder::final_model(const StateDict& state) {
  auto path = (fs::path(dir_) / "final_model.safetensors").string();
  write_file_atomically(
      path, [&](const ByteSink& out) { write_model(state, out); }, 0644);
  return path;
}

int64_t RunRecorder::rounds_with_new_model() const {
  int64_t n = 0;
  for (const auto& r : rounds_) n += r.is_object() && !r.value("aggregate_rejected", false) ? 1 : 0;
  return n;
}

}  // namespace fedsilo::cross_silo
