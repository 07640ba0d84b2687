// The dashboard against a real run (docs/monitoring.md): server + 2 silos over mosquitto, the
// page loaded in headless Chromium while rounds go on and after the end, /api/status and
// /metrics read live, a silo killed mid-run seen offline, and the TensorBoard file read back.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <filesystem>
#include <thread>

#include "build_paths.h"
#include "cli_run.h"
#include "core/subprocess.h"
#include "monitor/dashboard_server.h"
#include "monitor/tfevents.h"

namespace fedsilo {
namespace {
using namespace std::chrono_literals;

// Rounds slow enough (100 local epochs) and many enough that a browser sees several go by.
constexpr int kRounds = 40;

struct Dashboard {
  explicit Dashboard(int port) : client("127.0.0.1", port) {
    client.set_connection_timeout(2);
    client.set_read_timeout(5);
  }
  std::optional<nlohmann::json> status() {
    auto r = client.Get("/api/status");
    if (!r || r->status != 200) return std::nullopt;
    return nlohmann::json::parse(r->body);
  }
  // Polls /api/status until `done` holds; the last status seen, or nullopt at the deadline.
  template <typename Pred>
  std::optional<nlohmann::json> wait_until(Pred done, std::chrono::seconds deadline) {
    auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
      if (auto s = status(); s && done(*s)) return s;
      std::this_thread::sleep_for(50ms);  // polling interval of a condition with a deadline
    }
    return std::nullopt;
  }
  httplib::Client client;
};

std::string silo_state(const nlohmann::json& st, int silo) {
  for (const auto& s : st["silos"])
    if (s["silo"] == silo) return s["state"];
  return "";
}

// Runs dashboard_check.js; its JSON line on success.
nlohmann::json check_in_browser(const testutil::TempDir& dir, int port, const std::string& mode) {
  std::string png = dir / ("dashboard_" + mode + ".png");
  std::string out = dir / ("browser_" + mode + ".out");
  Subprocess::Options o;
  o.output_file = out;
  Subprocess node(
      {"node",
       std::string(fedsilo::build_paths::source_dir()) + "/tests/monitor/dashboard_check.js",
       "http://127.0.0.1:" + std::to_string(port) + "/", mode, png},
      o);
  auto code = node.wait_for(180s);
  EXPECT_EQ(code.value_or(-1), 0) << testutil::read_file(out);
  EXPECT_TRUE(std::filesystem::exists(png));
  if (std::filesystem::exists(png)) {
    std::filesystem::copy_file(
        png, std::string(fedsilo::build_paths::binary_dir()) + "/dashboard_" + mode + ".png",
        std::filesystem::copy_options::overwrite_existing);
  }
  auto text = testutil::read_file(out);
  auto first = text.find('{');
  if (first == std::string::npos) return nullptr;
  return nlohmann::json::parse(text.substr(first, text.find('\n', first) - first));
}

TEST(DashboardLive, ThePageShowsWhateverSubsetOfFiguresASiloSends) {
  testutil::TempDir dir;
  auto status = std::make_shared<monitor::RunStatus>("partial", 5, std::vector<int>{1, 2});
  status->silo_seen(1);
  status->silo_seen(2);
  monitor::SiloReport some;
  some.round = 0;
  some.train_ms = 12;
  some.system = {{"rss_mib", 310.5}};  // no cpu_percent, no peak_rss_mib, no GPU
  status->silo_reported(1, some);
  monitor::SiloReport gpu_only;
  gpu_only.system = {{"gpu_util_percent", 40}};  // no GPU memory
  status->silo_reported(2, gpu_only);
  monitor::DashboardServer server(status, {});
  auto seen = check_in_browser(dir, server.port(), "partial");
  ASSERT_TRUE(seen.is_object());
  auto row1 = seen["silos"][0]["cells"], row2 = seen["silos"][1]["cells"];
  EXPECT_EQ(row1[7], "–") << row1.dump() << " (cpu)";
  EXPECT_EQ(row1[8], "311 MiB") << row1.dump();
  EXPECT_EQ(row2[9], "40 % · –") << row2.dump();
}

TEST(DashboardLive, APersonWatchingTheRunSeesItMoveASiloDieAndTheEnd) {
  testutil::Broker broker;
  int port = free_loopback_port();
  testutil::CliRun run(
      broker, {"tracking_args.dashboard_port=" + std::to_string(port),
               "tracking_args.dashboard_linger_s=600", "train_args.epochs=100",
               "train_args.comm_round=" + std::to_string(kRounds),
               "train_args.min_clients_per_round=1", "validation_args.frequency_of_the_test=1"});
  run.sets_.push_back("tracking_args.tensorboard_dir=" + (run.dir_ / "tb"));
  run.use_directory_store();
  auto server = run.start("server", 0);
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
  Dashboard dash(port);
  auto st = dash.wait_until([](const auto& s) { return s["rounds_completed"] >= 1; }, 120s);
  ASSERT_TRUE(st) << "no round completed on the dashboard\n" << run.output("server", 0);

  auto live = check_in_browser(run.dir_, port, "live");
  ASSERT_TRUE(live.is_object());
  EXPECT_GT(live["later_round"], live["first_round"]);

  // Silo 1 stopped holds the run in its round (it waits for silo 1's model), so what follows
  // does not race the run's end on a fast machine.
  silo1->signal(SIGSTOP);
  st = dash.status();
  ASSERT_TRUE(st);
  for (const auto& s : (*st)["silos"]) {
    EXPECT_GE(s["rounds_contributed"], 1) << s;
    EXPECT_GT(s["bytes_moved"], 0) << s;
    EXPECT_GT(s["system"]["rss_mib"].get<double>(), 1.0) << "the silo's own figures: " << s;
    EXPECT_GT(s["last_train_ms"].get<double>(), 0.0) << s;
  }
  EXPECT_FALSE((*st)["curve"].empty());
  auto metrics = dash.client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("fedsilo_silos_online 2\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("fedsilo_silo_train_seconds{silo=\"2\"}"), std::string::npos);
  EXPECT_NE(metrics->body.find("fedsilo_test_accuracy "), std::string::npos);

  ASSERT_LT((*st)["rounds_completed"].get<int>(), kRounds)
      << "the run ended before silo 1 was stopped";
  silo2->signal(SIGKILL);
  auto killed_at = std::chrono::steady_clock::now();
  // MQTT's last will, published by the broker when the connection drops.
  auto offline = dash.wait_until([](const auto& s) { return silo_state(s, 2) == "offline"; }, 60s);
  ASSERT_TRUE(offline) << "silo 2 was killed but the dashboard does not show it offline";
  RecordProperty("offline_after_ms",
                 static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - killed_at)
                                      .count()));
  EXPECT_EQ((*offline)["silos_online"], 1);
  silo1->signal(SIGCONT);

  auto end = dash.wait_until([](const auto& s) { return s["finished"] == true; }, 240s);
  ASSERT_TRUE(end) << "the run did not finish\n" << run.output("server", 0);
  EXPECT_EQ((*end)["state"], "completed");
  EXPECT_EQ((*end)["rounds_completed"], kRounds);
  auto final_page = check_in_browser(run.dir_, port, "final");
  ASSERT_TRUE(final_page.is_object());
  EXPECT_EQ(final_page["round_text"], fmt::format("{0} / {0}", kRounds));
  for (const auto& s : final_page["silos"])
    if (s["silo"] == 2) EXPECT_EQ(s["state"], "offline");

  // The page stays up until the server is told to go.
  server->signal(SIGTERM);
  EXPECT_EQ(testutil::finish(*server, run, "server", 0), 0) << run.output("server", 0);
  EXPECT_EQ(testutil::finish(*silo1, run, "client", 1), 0) << run.output("client", 1);

  // TensorBoard: one test accuracy per round, read by the independent reader.
  auto events = testutil::events_file_in(run.dir_ / "tb");
  ASSERT_FALSE(events.empty());
  std::set<int64_t> acc_steps;
  std::map<std::string, int> tags;
  for (const auto& j : testutil::read_tfevents(events)) {
    ++tags[j["tag"]];
    if (j["tag"] == "test/accuracy") {
      acc_steps.insert(j["step"].get<int64_t>());
      EXPECT_GT(j["value"].get<double>(), 0.0);
    }
  }
  EXPECT_EQ(acc_steps.size(), static_cast<size_t>(kRounds));
  EXPECT_EQ(*acc_steps.rbegin(), kRounds - 1);
  EXPECT_EQ(tags["round/seconds"], kRounds);
  EXPECT_EQ(tags["train/loss"], kRounds);
  EXPECT_GE(tags["silo_2/train_seconds"], 1);
}

}  // namespace
}  // namespace fedsilo
