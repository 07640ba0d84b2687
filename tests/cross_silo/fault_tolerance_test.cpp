// Faults as an operator meets them, with real processes (the `fedsilo` tool over a real
// mosquitto): a silo killed for good, a silo killed and restarted, a server killed and
// restarted twice, a corrupted checkpoint, a silo whose server never comes.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli_run.h"
#include "test_services.h"

using namespace fedsilo;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string run_dir(testutil::CliRun& run) { return run.dir_ / "log/run_dist"; }

}  // namespace

TEST(FaultTolerance, ThreeSilosQuorumTwoOneKilledForGoodTheRunCompletesAndNamesIt) {
  testutil::Broker broker;
  testutil::CliRun run(
      broker, {"train_args.client_id_list=[1, 2, 3]", "train_args.client_num_in_total=3",
               "train_args.client_num_per_round=3", "train_args.min_clients_per_round=2",
               "train_args.epochs=20", "train_args.comm_round=6", "comm_args.round_timeout_s=20"});
  run.use_directory_store();
  auto server = run.start("server", 0);
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2),
       silo3 = run.start("client", 3);
  testutil::wait_for_rounds(run, 1);
  silo3->signal(SIGKILL);
  EXPECT_EQ(testutil::finish(*server, run, "server", 0), 0) << run.output("server", 0);
  EXPECT_EQ(testutil::finish(*silo1, run, "client", 1), 0) << run.output("client", 1);
  EXPECT_EQ(testutil::finish(*silo2, run, "client", 2), 0) << run.output("client", 2);
  EXPECT_EQ(run.rounds_done(), 6u);
  std::ifstream in(run_dir(run) + "/metrics.jsonl");
  std::string line, last;
  while (std::getline(in, line)) last = line;
  auto j = nlohmann::json::parse(last);
  ASSERT_EQ(j["dropped"].size(), 1u) << last;
  EXPECT_EQ(j["dropped"][0]["silo"], 3);
  EXPECT_EQ(j["silos"].size(), 2u);
  auto report = testutil::read_file(run_dir(run) + "/report.html");
  EXPECT_NE(report.find("silo 3 (offline)"), std::string::npos);
  EXPECT_NE(run.output("server", 0).find("(dropped [3])"), std::string::npos)
      << "the progress line names the dropped silo";
}

TEST(FaultTolerance, ASiloKilledAndRestartedRejoinsAndTheModelIsUnchanged) {
  testutil::Broker broker;
  std::vector<std::string> slow = {"train_args.epochs=40", "train_args.comm_round=8"};
  testutil::CliRun run(broker, slow);
  run.use_directory_store();
  auto server = run.start("server", 0);
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
  testutil::wait_for_rounds(run, 2);
  ASSERT_LT(run.rounds_done(), 8u) << "the run ended before silo 2 could be killed";
  silo2->signal(SIGKILL);
  silo2->wait_for(10s);
  auto again = run.start("client", 2, {}, "-restarted");
  EXPECT_EQ(testutil::finish(*server, run, "server", 0), 0) << run.output("server", 0);
  EXPECT_EQ(testutil::finish(*silo1, run, "client", 1), 0) << run.output("client", 1);
  EXPECT_EQ(testutil::finish(*again, run, "client", 2, "-restarted"), 0)
      << run.output("client", 2, "-restarted");
  // Silo 2 trains every round it misses from the same global model with the same seed.
  EXPECT_EQ(run.final_model(), run.simulated_model(slow));
}

TEST(FaultTolerance, AServerKilledAtTwoRoundsAndRestartedEndsBitForBitLikeAnUninterruptedRun) {
  testutil::Broker broker;
  std::vector<std::string> slow = {"train_args.epochs=40", "train_args.comm_round=10"};
  testutil::CliRun run(broker, slow);
  run.use_directory_store();
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
  auto server = run.start("server", 0);
  testutil::wait_for_rounds(run, 2);
  server->signal(SIGKILL);
  server->wait_for(10s);
  size_t kept = run.rounds_done();
  ASSERT_LT(kept, 10u) << "the run ended before the server could be killed";
  // Logs are flushed per line: the killed server's log has every round it recorded before.
  auto log = testutil::read_file(run_dir(run) + "/server.log");
  EXPECT_EQ(log.back(), '\n') << "the log ends mid-line";
  EXPECT_NE(log.find(fmt::format("progress: round {}/10", kept - 1)), std::string::npos) << log;
  server = run.start("server", 0, {}, "-b");
  testutil::wait_for_rounds(run, kept + 2);
  server->signal(SIGKILL);
  server->wait_for(10s);
  server = run.start("server", 0, {}, "-c");
  EXPECT_EQ(testutil::finish(*server, run, "server", 0, "-c"), 0) << run.output("server", 0, "-c");
  EXPECT_EQ(testutil::finish(*silo1, run, "client", 1), 0) << run.output("client", 1);
  EXPECT_EQ(testutil::finish(*silo2, run, "client", 2), 0) << run.output("client", 2);
  EXPECT_EQ(run.rounds_done(), 10u) << "metrics.jsonl has every round once";
  EXPECT_NE(run.output("server", 0, "-b").find("resuming after round"), std::string::npos);
  EXPECT_EQ(run.final_model(), run.simulated_model(slow));
  // Once more: finished, nothing to train, exit 0.
  auto late = run.start("server", 0, {}, "-d");
  EXPECT_EQ(testutil::finish(*late, run, "server", 0, "-d"), 0);
  EXPECT_NE(run.output("server", 0, "-d").find("already finished"), std::string::npos);
  EXPECT_EQ(run.rounds_done(), 10u);
  // A silo restarted after the run ended hears the retained FINISH and stops, exit 0.
  auto late_silo = run.start("client", 1, {}, "-late");
  EXPECT_EQ(testutil::finish(*late_silo, run, "client", 1, "-late"), 0)
      << run.output("client", 1, "-late");
  EXPECT_NE(run.output("client", 1, "-late").find("Training finished"), std::string::npos);
}

TEST(FaultTolerance, ASecondServerOnARunExits2NamingTheFirstAndTheRunGoesOn) {
  testutil::Broker broker;
  std::vector<std::string> three = {"train_args.client_id_list=[1, 2, 3]",
                                    "train_args.client_num_in_total=3",
                                    "train_args.client_num_per_round=3", "train_args.comm_round=3"};
  testutil::CliRun run(broker, three);
  run.use_directory_store();
  // The first server waits for silo 3, which comes only after the second server has tried.
  auto server = run.start("server", 0);
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
  ASSERT_TRUE(testutil::wait_for_output(run, "server", 0, "server started"));
  auto second = run.start("server", 0, {}, "-second");
  EXPECT_EQ(testutil::finish(*second, run, "server", 0, "-second"), 2);
  auto out = run.output("server", 0, "-second");
  EXPECT_NE(out.find("is in use by another server (pid " + std::to_string(server->pid())),
            std::string::npos)
      << out;
  auto silo3 = run.start("client", 3);
  EXPECT_EQ(testutil::finish(*server, run, "server", 0), 0) << run.output("server", 0);
  for (auto* s : {silo1.get(), silo2.get(), silo3.get()})
    EXPECT_EQ(s->wait_for(60s).value_or(-1), 0);
  EXPECT_EQ(run.final_model(), run.simulated_model(three));
}

TEST(FaultTolerance, ACorruptedCheckpointStopsTheServerWithExit2NamingTheFile) {
  testutil::Broker broker;
  testutil::CliRun run(broker, {"train_args.epochs=40", "train_args.comm_round=10"});
  run.use_directory_store();
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
  auto server = run.start("server", 0);
  testutil::wait_for_rounds(run, 1);
  server->signal(SIGKILL);
  server->wait_for(10s);
  auto checkpoint = nlohmann::json::parse(testutil::read_file(run_dir(run) + "/checkpoint.json"));
  std::string model_file = run_dir(run) + "/" + checkpoint["model"]["file"].get<std::string>();
  {
    std::fstream f(model_file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x7f');
  }
  auto again = run.start("server", 0, {}, "-b");
  EXPECT_EQ(testutil::finish(*again, run, "server", 0, "-b"), 2);
  auto out = run.output("server", 0, "-b");
  EXPECT_NE(out.find(model_file), std::string::npos) << out;
  EXPECT_NE(out.find("does not match its recorded size and SHA-256"), std::string::npos) << out;
  silo1->signal(SIGKILL);
  silo2->signal(SIGKILL);
}

TEST(FaultTolerance, ASiloOfTwoTrainersWhoseServerNeverComesExits3WhicheverTrainerIsPolled) {
  testutil::Broker broker;
  testutil::CliRun run(broker,
                       {"client_silo_args.n_proc_per_node=2", "comm_args.online_timeout_s=3"});
  run.use_directory_store();
  auto silo = run.start(
      "client", 1,
      {"--set", "client_silo_args.pg_master_port=" + std::to_string(free_loopback_port())});
  EXPECT_EQ(testutil::finish(*silo, run, "client", 1), 3) << run.output("client", 1);
}

// The server's run folder on a small filesystem of its own (a tmpfs in a mount namespace only
// the server sees): whichever write fills it, the server stops with exit 5, naming the path and
// the space, after telling the silos.
TEST(FaultTolerance, AServerWhoseDiskFillsExits5NamingThePathAfterTellingTheSilos) {
  if (std::system("unshare -m true 2>/dev/null") != 0)
    GTEST_SKIP() << "no mount namespaces here (needs root or user namespaces)";
  // 48 KiB fills with the second silo's model in the FedAvg spool (the write that used to hang
  // the server); 96 KiB with round 0's checkpoint.
  for (auto [size, fills] :
       {std::pair{"48k", "/run_dist/spool"}, {"96k", "/run_dist/checkpoint"}}) {
    testutil::Broker broker;
    testutil::TempDir small;
    testutil::CliRun run(broker, {"train_args.comm_round=30"});
    run.sets_.push_back("security_args.key_dir=" + run.dir_ / "log/keys");
    run.use_directory_store();
    auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
    run.wrap_ = {"unshare",
                 "-m",
                 "sh",
                 "-c",
                 std::string("mount -t tmpfs -o size=") + size + " tmpfs \"$0\" && exec \"$@\"",
                 small.path()};
    auto server = run.start("server", 0, {"--set", "tracking_args.log_file_dir=" + small.path()});
    run.wrap_.clear();
    EXPECT_EQ(testutil::finish(*server, run, "server", 0), 5) << run.output("server", 0);
    auto out = run.output("server", 0);
    EXPECT_NE(out.find("No space left on device"), std::string::npos) << size << out;
    EXPECT_NE(out.find(small.path() + fills), std::string::npos) << size << out;
    EXPECT_NE(out.find("bytes free"), std::string::npos) << out;
    EXPECT_NE(out.find("telling every silo to stop"), std::string::npos) << out;
    EXPECT_EQ(testutil::finish(*silo1, run, "client", 1), 4) << run.output("client", 1);
    EXPECT_EQ(testutil::finish(*silo2, run, "client", 2), 4) << run.output("client", 2);
  }
}

// A silo on one node with a loopback master address: its trainers meet through a private file,
// and nothing listens on pg_master_port, on any address of the machine.
TEST(FaultTolerance, ASingleNodeSilosProcessGroupListensOnNoNetworkAddress) {
  std::string outside;  // a non-loopback IPv4 address of this machine
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (auto* a = list; a; a = a->ifa_next) {
      if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
      char text[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text,
                  sizeof(text));
      if (std::string(text).rfind("127.", 0) != 0) outside = text;
    }
    ::freeifaddrs(list);
  }
  if (outside.empty()) GTEST_SKIP() << "this machine has no non-loopback IPv4 address";
  testutil::Broker broker;
  int port = free_loopback_port();
  testutil::CliRun run(
      broker,
      {"client_silo_args.n_proc_per_node=2", "client_silo_args.pg_master_address=127.0.0.1",
       "client_silo_args.pg_master_port=" + std::to_string(port), "comm_args.online_timeout_s=20"});
  run.use_directory_store();
  auto silo = run.start("client", 1);  // no server: it waits, its trainers met
  ASSERT_TRUE(testutil::wait_for_output(run, "client", 1, "trainer 1 of 2 joined"))
      << run.output("client", 1);
  ASSERT_NE(run.output("client", 1).find("rendezvous"), std::string::npos)
      << run.output("client", 1);
  for (const std::string& host : {outside, std::string("127.0.0.1")}) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    EXPECT_NE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0)
        << "something listens on " << host << ":" << port;
    ::close(fd);
  }
  silo->signal(SIGTERM);
  silo->wait_for(30s);
}

TEST(FaultTolerance, AStoreThatFailsForGoodStopsTheServerWithExit5AfterTellingTheSilos) {
  testutil::Broker broker;
  testutil::CliRun run(broker);
  run.use_directory_store();
  // The server's part of the store cannot be written (a full disk, a revoked credential): its
  // folder is a file, which fails as root too, unlike permissions.
  fs::create_directories(run.dir_ / "blobs/fedsilo/dist");
  std::ofstream(run.dir_ / "blobs/fedsilo/dist/global") << "not a folder";
  auto silo1 = run.start("client", 1), silo2 = run.start("client", 2);
  auto server = run.start("server", 0);
  EXPECT_EQ(testutil::finish(*server, run, "server", 0), 5) << run.output("server", 0);
  auto out = run.output("server", 0);
  EXPECT_NE(out.find("trying again in"), std::string::npos) << out;
  EXPECT_NE(out.find("telling every silo to stop"), std::string::npos) << out;
  EXPECT_EQ(testutil::finish(*silo1, run, "client", 1), 4) << run.output("client", 1);
  EXPECT_EQ(testutil::finish(*silo2, run, "client", 2), 4) << run.output("client", 2);
}
