// What tracking_args adds to a run, in simulate: the same ServerManager feeds the dashboard's
// status, the TensorBoard file and the silos' system figures in metrics.jsonl and report.html.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/subprocess.h"
#include "fedsilo/simulate.h"
#include "monitor/tfevents.h"
#include "test_util.h"

namespace fedsilo {
namespace {

TEST(RunMonitoring, SimulateWritesTensorBoardAndTheSilosSystemFigures) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 60);
  auto args = testutil::small_args(
      dir.path(), dir / "log",
      {"tracking_args.tensorboard_dir=" + (dir / "tb"),
       "tracking_args.dashboard_port=" + std::to_string(free_loopback_port())});
  auto summary = simulate(args);

  std::ifstream in(summary.output_dir + "/metrics.jsonl");
  std::string line;
  int rounds = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    ++rounds;
    for (const auto& s : j["silos"]) {
      ASSERT_TRUE(s.contains("system")) << line;
      EXPECT_GT(s["system"]["rss_mib"].get<double>(), 1.0);
      EXPECT_GE(s["system"]["peak_rss_mib"].get<double>(), s["system"]["rss_mib"].get<double>());
    }
  }
  EXPECT_EQ(rounds, 6);
  auto report = testutil::read_file(summary.output_dir + "/report.html");
  EXPECT_NE(report.find("peak RSS MiB"), std::string::npos);

  auto events = testutil::events_file_in(dir / "tb");
  ASSERT_FALSE(events.empty());
  std::map<std::string, std::vector<int64_t>> steps;
  for (const auto& j : testutil::read_tfevents(events)) steps[j["tag"]].push_back(j["step"]);
  // frequency_of_the_test 2 over 6 rounds: rounds 0, 2, 4 and the last.
  EXPECT_EQ(steps["test/accuracy"], (std::vector<int64_t>{0, 2, 4, 5}));
  EXPECT_EQ(steps["round/seconds"].size(), 6u);
  EXPECT_EQ(steps["train/accuracy"], (std::vector<int64_t>{0, 2, 4, 5}));
  EXPECT_EQ(steps["local/train_loss"].size(), 6u);
  EXPECT_EQ(steps["silo_1/train_seconds"].size(), 6u);
}

}  // namespace
}  // namespace fedsilo
