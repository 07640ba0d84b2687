#include "cross_silo/run_recorder.h"

#include <filesystem>

#include "core/args_json.h"
#include "core/log.h"
#include "cross_silo/run_report.h"
#include "fedsilo/error.h"
#include "ml/model_blob.h"

namespace fedsilo::cross_silo {
namespace fs = std::filesystem;

RunRecorder::RunRecorder(const Args& args)
    : comm_round_(args.comm_round),
      log_(logging::role_logger("Server", 0)),
      dir_(args.run_output_dir()),
      config_(args_to_json(args)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw Error("output folder " + dir_ + ": cannot be created: " + ec.message());
  metrics_.open(fs::path(dir_) / "metrics.jsonl", std::ios::trunc);
  if (!metrics_)
    throw Error("output file " + (fs::path(dir_) / "metrics.jsonl").string() +
                ": cannot be written");
}

void RunRecorder::round(const RoundStats& stats) {
  auto record = stats.to_json();
  metrics_ << record.dump() << '\n';
  metrics_.flush();
  rounds_.push_back(std::move(record));
  if (stats.metrics.contains("test_acc")) last_test_acc_ = stats.metrics["test_acc"].get<double>();
  int64_t done = stats.round + 1;
  double eta =
      stats.elapsed_s / static_cast<double>(done) * static_cast<double>(comm_round_ - done);
  FS_LOG_INFO(log_,
              "progress: round {}/{} | silos {}/{} | elapsed {:.2f} s | round {:.1f} ms | ETA "
              "{:.1f} s | test_acc {}",
              done, comm_round_, stats.silos.size(), stats.silos.size(), stats.elapsed_s,
              stats.round_ms, eta,
              last_test_acc_ < 0 ? std::string("-") : fmt::format("{:.4f}", last_test_acc_));
}

std::string RunRecorder::report(const std::string& status) {
  auto path = fs::path(dir_) / "report.html";
  std::ofstream(path, std::ios::trunc) << render_report(config_, rounds_, status);
  return path.string();
}

std::string RunRecorder::final_model(const StateDict& state) {
  auto path = fs::path(dir_) / "final_model.safetensors";
  auto tmp = path;
  tmp += ".tmp";
  std::string bytes = encode_model(state);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw Error("output file " + tmp.string() + ": cannot be written");
  }
  fs::rename(tmp, path);
  return path.string();
}

}  // namespace fedsilo::cross_silo
