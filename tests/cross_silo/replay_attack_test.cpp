// An outsider on the broker who records every message and publishes them again later — into
// the same run, into a later run of the same parties, old last wills included — and parties
// restarted with their wall clock ten minutes off (a silo behind, the server ahead): the run
// ends with the undisturbed bytes.
#include <gtest/gtest.h>
#include <mosquitto.h>
#include <signal.h>

#include <mutex>
#include <utility>
#include <vector>

#include "cli_run.h"
#include "core/subprocess.h"
#include "test_services.h"

using namespace fedsilo;
using namespace std::chrono_literals;

namespace {

std::string shim() {
  return std::string(build_paths::binary_dir()) + "/tests/libfedsilo_clock_shift.so";
}

// Replays `captured` onto run `run_id`'s topics: another run's messages with their run's
// prefix replaced, this run's as they were.
size_t replay(testutil::MqttOutsider& tap,
              const std::vector<std::pair<std::string, std::string>>& captured,
              const std::string& run_id) {
  size_t n = 0;
  for (const auto& [topic, payload] : captured) {
    if (payload.empty() || topic.find("/probe/") != std::string::npos) continue;
    auto rest = topic.substr(topic.find('/', std::string("fedsilo/").size()));
    tap.publish("fedsilo/" + run_id + rest, payload);
    ++n;
  }
  return n;
}

}  // namespace

TEST(ReplayAttack, TheClockShimShiftsTheWallClockOfAProcess) {
  testutil::TempDir dir;
  Subprocess::Options o;
  o.output_file = dir / "date.out";
  o.env = {{"LD_PRELOAD", shim()}, {"FEDSILO_CLOCK_SHIFT_S", "-600"}};
  Subprocess date({"/bin/date", "+%s"}, o);
  ASSERT_EQ(date.wait_for(10s).value_or(-1), 0);
  long shifted = std::stol(testutil::read_file(dir / "date.out"));
  long now = static_cast<long>(::time(nullptr));
  EXPECT_NEAR(static_cast<double>(now - shifted), 600.0, 5.0);
}

TEST(ReplayAttack, CapturedTrafficOfEarlierRunsAndOldWillsReplayedChangeNothing) {
  testutil::Broker broker;
  testutil::MqttOutsider tap(broker.port(), /*record=*/true);
  // Run A: the same parties (one key folder), an earlier run on the same broker.
  testutil::CliRun a(broker, {"train_args.comm_round=2"});
  a.run_id_ = "runA";
  a.use_directory_store();
  auto a_server = a.start("server", 0);
  auto a1 = a.start("client", 1), a2 = a.start("client", 2);
  ASSERT_EQ(testutil::finish(*a_server, a, "server", 0), 0) << a.output("server", 0);
  ASSERT_EQ(testutil::finish(*a1, a, "client", 1), 0);
  ASSERT_EQ(testutil::finish(*a2, a, "client", 2), 0);
  auto run_a = tap.recorded();

  std::vector<std::string> b_sets = {"train_args.epochs=40", "train_args.comm_round=8",
                                     "security_args.key_dir=" + a.dir_ / "log/keys"};
  testutil::CliRun b(broker, b_sets);
  b.use_directory_store();
  auto server = b.start("server", 0);
  auto silo1 = b.start("client", 1), silo2 = b.start("client", 2);
  testutil::wait_for_rounds(b, 1);
  replay(tap, run_a, "dist");  // into the live run: every party has sent by now
  // Silo 2 dies (the broker publishes its will) and comes back with its clock 10 min behind.
  silo2->signal(SIGKILL);
  silo2->wait_for(10s);
  b.env_ = {{"LD_PRELOAD", shim()}, {"FEDSILO_CLOCK_SHIFT_S", "-600"}};
  auto silo2_again = b.start("client", 2, {}, "-skewed");
  size_t kept = b.rounds_done();
  testutil::wait_for_rounds(b, kept + 1);
  // The server dies and resumes with its clock 10 min ahead.
  server->signal(SIGKILL);
  server->wait_for(10s);
  b.env_["FEDSILO_CLOCK_SHIFT_S"] = "600";
  server = b.start("server", 0, {}, "-skewed");
  b.env_.clear();
  testutil::wait_for_rounds(b, b.rounds_done() + 1);
  ASSERT_LT(b.rounds_done(), 8u) << "the run ended before the replays";
  // Everything seen so far, again: run A's traffic, this run's own (both server sessions'
  // requests, silo 2's old session and the will the broker published when it died).
  size_t replayed = replay(tap, tap.recorded(), "dist");
  EXPECT_GT(replayed, 50u);

  EXPECT_EQ(testutil::finish(*server, b, "server", 0, "-skewed"), 0)
      << b.output("server", 0, "-skewed");
  EXPECT_EQ(testutil::finish(*silo1, b, "client", 1), 0) << b.output("client", 1);
  EXPECT_EQ(testutil::finish(*silo2_again, b, "client", 2, "-skewed"), 0)
      << b.output("client", 2, "-skewed");
  EXPECT_EQ(b.rounds_done(), 8u);
  auto server_log = b.output("server", 0, "-skewed");
  EXPECT_NE(server_log.find("(other_run)"), std::string::npos) << "run A's traffic reached it";
  EXPECT_TRUE(server_log.find("(replay)") != std::string::npos ||
              server_log.find("(old_will)") != std::string::npos)
      << server_log;
  EXPECT_EQ(b.output("server", 0, "-skewed").find("offline"), std::string::npos)
      << "no silo was taken for offline by an old will";
  EXPECT_EQ(b.final_model(), b.simulated_model(b_sets));
}
