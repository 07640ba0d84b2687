#pragma once
// Reads a TensorBoard events file with the independent reader (tfevents_reader.py): one JSON
// object per scalar, {"step", "tag", "value", "wall_time"}. Fails the test, naming the
// reader's complaint, when the file does not read back.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "build_paths.h"
#include "core/subprocess.h"
#include "test_util.h"

namespace fedsilo::testutil {

// The exit code of the reader and what it printed.
inline std::pair<int, std::string> run_tfevents_reader(const std::string& events_file) {
  std::string out = events_file + ".reader.out";
  Subprocess::Options o;
  o.output_file = out;
  Subprocess reader(
      {"python3",
       std::string(fedsilo::build_paths::source_dir()) + "/tests/monitor/tfevents_reader.py",
       events_file},
      o);
  int code = reader.wait_for(std::chrono::seconds(60)).value_or(-1);
  auto text = read_file(out);
  std::filesystem::remove(out);
  return {code, text};
}

inline std::vector<nlohmann::json> read_tfevents(const std::string& events_file) {
  auto [code, text] = run_tfevents_reader(events_file);
  EXPECT_EQ(code, 0) << text;
  std::vector<nlohmann::json> events;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) events.push_back(nlohmann::json::parse(line));
  return events;
}

// The one events file in `dir` (empty when there is none).
inline std::string events_file_in(const std::string& dir) {
  std::string found;
  for (const auto& e : std::filesystem::directory_iterator(dir)) found = e.path().string();
  return found;
}

}  // namespace fedsilo::testutil
