#include "monitor/run_status.h"

#include <gtest/gtest.h>

#include <sstream>

#include "monitor/system_metrics.h"

namespace fedsilo::monitor {
namespace {

RoundPoint point(int64_t round, double s, std::optional<double> acc = std::nullopt) {
  RoundPoint p;
  p.round = round;
  p.round_s = s;
  p.test_acc = acc;
  return p;
}

TEST(RunStatus, SnapshotFollowsTheRun) {
  RunStatus st("r1", 4, {1, 2});
  auto j = st.snapshot();
  EXPECT_EQ(j["round"], -1);
  EXPECT_EQ(j["silos_online"], 0);
  EXPECT_EQ(j["silos"][0]["state"], "waiting");
  EXPECT_TRUE(j["silos"][0]["last_seen_s_ago"].is_null());

  st.silo_seen(1);
  st.silo_seen(2);
  st.round_started(0);
  st.silo_state(1, SiloState::kTraining);
  st.silo_state(2, SiloState::kTraining);
  st.silo_progress(2, 0, SiloState::kUploading);
  SiloReport r;
  r.round = 0;
  r.train_ms = 120;
  r.transfer_ms = 5;
  r.bytes = 1000;
  r.system = {{"rss_mib", 80.5}};
  st.silo_reported(1, r);
  // A TRAINING report that arrives after silo 1's update does not send it back to training.
  st.silo_progress(1, 0, SiloState::kTraining);
  st.round_finished(point(0, 2.0, 0.5), 4000, 3000);
  j = st.snapshot();
  EXPECT_EQ(j["round"], 0);
  EXPECT_EQ(j["rounds_completed"], 1);
  EXPECT_EQ(j["silos"][0]["state"], "online");
  EXPECT_EQ(j["silos"][0]["rounds_contributed"], 1);
  EXPECT_EQ(j["silos"][0]["bytes_moved"], 1000);
  EXPECT_EQ(j["silos"][0]["system"]["rss_mib"], 80.5);
  EXPECT_EQ(j["silos"][1]["state"], "uploading");
  EXPECT_EQ(j["silos_online"], 2);
  EXPECT_EQ(j["test_acc"], 0.5);
  EXPECT_EQ(j["curve"].size(), 1u);
  EXPECT_DOUBLE_EQ(j["eta_s"].get<double>(), 6.0);  // 3 rounds left at 2 s
  EXPECT_FALSE(j["finished"]);

  st.silo_state(2, SiloState::kOffline);
  j = st.snapshot();
  EXPECT_EQ(j["silos"][1]["state"], "offline");
  EXPECT_EQ(j["silos_online"], 1);
  st.silo_state(2, SiloState::kDropped);
  EXPECT_EQ(st.snapshot()["silos"][1]["state"], "offline") << "dropped for being offline";
  st.silo_state(1, SiloState::kDropped);
  EXPECT_EQ(st.snapshot()["silos"][0]["state"], "dropped");
  st.set_state("completed");
  j = st.snapshot();
  EXPECT_TRUE(j["finished"]);
  EXPECT_TRUE(j["eta_s"].is_null());
}

TEST(RunStatus, AResumedRunCountsTheRoundsBeforeIt) {
  RunStatus st("r1", 10, {1});
  st.resumed(4);
  st.round_started(4);
  st.round_finished(point(4, 1.0), 0, 0);
  auto j = st.snapshot();
  EXPECT_EQ(j["rounds_completed"], 5);
  EXPECT_DOUBLE_EQ(j["eta_s"].get<double>(), 5.0);
}

TEST(RunStatus, KeepsOnlyTheLastLogLines) {
  RunStatus st("r1", 1, {1});
  for (int i = 0; i < 80; ++i) st.log_line("warning", "line " + std::to_string(i));
  auto log = st.snapshot()["log"];
  ASSERT_EQ(log.size(), 50u);
  EXPECT_EQ(log.back()["text"], "line 79");
  EXPECT_EQ(log.front()["text"], "line 30");
}

// Parses the exposition text: every sample line belongs to a metric announced by # TYPE.
TEST(RunStatus, PrometheusTextIsWellFormed) {
  RunStatus st("r1", 5, {1, 2});
  st.silo_seen(1);
  SiloReport r;
  r.round = 0;
  r.train_ms = 1500;
  r.system = {{"rss_mib", 10.0}, {"cpu_percent", 95.0}};
  st.silo_reported(1, r);
  st.round_finished(point(0, 0.03, 0.9), 100, 200);
  st.round_finished(point(1, 7.0), 100, 200);
  auto text = st.prometheus();
  std::istringstream in(text);
  std::string line;
  std::set<std::string> typed;
  std::map<std::string, std::string> samples;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# TYPE ", 0) == 0) {
      typed.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line[0] == '#') continue;
    auto space = line.rfind(' ');
    auto name = line.substr(0, space);
    auto base = name.substr(0, name.find('{'));
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string s(suffix);
      if (base.size() > s.size() && base.compare(base.size() - s.size(), s.size(), s) == 0 &&
          typed.count(base.substr(0, base.size() - s.size())))
        base = base.substr(0, base.size() - s.size());
    }
    EXPECT_TRUE(typed.count(base)) << line;
    samples[name] = line.substr(space + 1);
  }
  EXPECT_EQ(samples["fedsilo_rounds_completed_total"], "2");
  EXPECT_EQ(samples["fedsilo_bytes_uploaded_total"], "200");
  EXPECT_EQ(samples["fedsilo_bytes_downloaded_total"], "400");
  EXPECT_EQ(samples["fedsilo_silos_online"], "1");
  EXPECT_EQ(samples["fedsilo_test_accuracy"], "0.9");
  EXPECT_EQ(samples["fedsilo_silo_train_seconds{silo=\"1\"}"], "1.5");
  EXPECT_EQ(samples["fedsilo_silo_rss_bytes{silo=\"1\"}"], "10485760");
  // Buckets are cumulative: 0.03 s falls in le=0.05, 7 s in le=10.
  EXPECT_EQ(samples["fedsilo_round_duration_seconds_bucket{le=\"0.025\"}"], "0");
  EXPECT_EQ(samples["fedsilo_round_duration_seconds_bucket{le=\"0.05\"}"], "1");
  EXPECT_EQ(samples["fedsilo_round_duration_seconds_bucket{le=\"5\"}"], "1");
  EXPECT_EQ(samples["fedsilo_round_duration_seconds_bucket{le=\"10\"}"], "2");
  EXPECT_EQ(samples["fedsilo_round_duration_seconds_bucket{le=\"+Inf\"}"], "2");
  EXPECT_EQ(samples["fedsilo_round_duration_seconds_count"], "2");
}

TEST(SystemMetrics, SamplesThisProcess) {
  SystemSampler s;
  volatile double x = 0;
  for (int i = 0; i < 2000000; ++i) x = x + i * 0.5;  // some CPU time to measure
  auto j = s.sample();
  EXPECT_GT(j["rss_mib"].get<double>(), 1.0);
  EXPECT_GE(j["peak_rss_mib"].get<double>(), j["rss_mib"].get<double>());
  EXPECT_GE(j["cpu_percent"].get<double>(), 0.0);
  EXPECT_EQ(sanitize_system_metrics(j), j) << "what a silo sends survives the server's filter";
}

TEST(SystemMetrics, TheServerKeepsOnlySaneNumbersFromASilo) {
  nlohmann::json forged = {{"rss_mib", -5},
                           {"peak_rss_mib", "a lot"},
                           {"cpu_percent", 50},
                           {"gpu_util_percent", 1e9},
                           {"evil", std::string(100, 'x')},
                           {"gpu_mem_used_mib", nlohmann::json::array({1, 2})}};
  EXPECT_EQ(sanitize_system_metrics(forged), nlohmann::json({{"cpu_percent", 50}}));
  EXPECT_TRUE(sanitize_system_metrics("not an object").empty());
}

TEST(RunStatus, PrometheusCountsTheMessagesTheServerDropped) {
  RunStatus st("r1", 5, {1, 2});
  EXPECT_NE(st.prometheus().find("# TYPE fedsilo_messages_dropped_total counter"),
            std::string::npos);
  st.set_dropped_messages_source([] {
    return std::map<std::string, uint64_t>{{"replay", 3}, {"other_run", 12}};
  });
  auto text = st.prometheus();
  EXPECT_NE(text.find("fedsilo_messages_dropped_total{reason=\"replay\"} 3\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("fedsilo_messages_dropped_total{reason=\"other_run\"} 12\n"),
            std::string::npos);
}

}  // namespace
}  // namespace fedsilo::monitor
