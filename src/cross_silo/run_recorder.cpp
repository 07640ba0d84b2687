#include "cross_silo/run_recorder.h"

#include <filesystem>

#include "comm/safetensors.h"
#include "core/args_json.h"
#include "cross_silo/run_report.h"
#include "fedsilo/error.h"

namespace fedsilo::cross_silo {
namespace fs = std::filesystem;

RunRecorder::RunRecorder(const Args& args)
    : dir_(args.run_output_dir()), config_(args_to_json(args)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw Error("output folder " + dir_ + ": cannot be created: " + ec.message());
  metrics_.open(fs::path(dir_) / "metrics.jsonl", std::ios::trunc);
  if (!metrics_)
    throw Error("output file " + (fs::path(dir_) / "metrics.jsonl").string() +
                ": cannot be written");
}

void RunRecorder::round(const nlohmann::json& record) {
  metrics_ << record.dump() << '\n';
  metrics_.flush();
  rounds_.push_back(record);
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
  std::string bytes = comm::safetensors_encode(state, {{"format", "pt"}, {"producer", "fedsilo"}});
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw Error("output file " + tmp.string() + ": cannot be written");
  }
  fs::rename(tmp, path);
  return path.string();
}

}  // namespace fedsilo::cross_silo
