#pragma once
// What a run leaves behind in Args::run_output_dir(): metrics.jsonl (one JSON object per round,
// written as the round ends) and final_model.safetensors.
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include "fedsilo/args.h"
#include "fedsilo/state_dict.h"

namespace fedsilo::cross_silo {

class RunRecorder {
 public:
  explicit RunRecorder(const Args& args);
  void round(const nlohmann::json& record);
  // Writes report.html from the rounds so far; `status` says how the run ended.
  std::string report(const std::string& status);
  // Writes the model atomically (temporary file + rename); returns its path.
  std::string final_model(const StateDict& state);
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::ofstream metrics_;
  nlohmann::json config_;
  std::vector<nlohmann::json> rounds_;
};

}  // namespace fedsilo::cross_silo
