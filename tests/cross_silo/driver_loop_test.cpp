// The driver loop, server and silo master in simulated time: a clock the test owns and a
// transport whose waits advance it, so deadlines and resends are checked without sleeping.
#include "protocol/driver_loop.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <deque>

#include "comm/inproc_transport.h"
#include "core/log.h"
#include "protocol/blob_keys.h"
#include "protocol/model_exchange.h"
#include "server/server_manager.h"
#include "client/silo_master.h"
#include "fedsilo/error.h"
#include "protocol_test_util.h"
#include "test_util.h"

using namespace fedsilo;
using namespace fedsilo::comm;
using namespace std::chrono_literals;

namespace {

using testutil::ManualClock;

// Wraps an in-process endpoint; a wait with nothing to read passes the time it would have
// waited on the manual clock, at once.
class SimulatedTimeTransport : public Transport {
 public:
  SimulatedTimeTransport(std::unique_ptr<Transport> inner, ManualClock& clock)
      : inner_(std::move(inner)), clock_(clock) {}
  void send(const Message& m) override {
    sent.push_back(m);
    inner_->send(m);
  }
  std::optional<Message> receive(std::chrono::milliseconds timeout) override {
    if (auto m = inner_->receive(0ms)) return m;
    clock_.advance(timeout);
    waited += timeout;
    return std::nullopt;
  }
  std::vector<Message> sent;
  std::chrono::milliseconds waited{0};

 private:
  std::unique_ptr<Transport> inner_;
  ManualClock& clock_;
};

std::vector<Message> drain(Transport& t) {
  std::vector<Message> out;
  while (auto m = t.receive(0ms)) out.push_back(*m);
  return out;
}

auto quiet_logger() { return logging::role_logger("Test", 0); }

// A store whose next `fail_puts` writes fail like a full disk or a refused PUT.
class FlakyStore : public MemoryStore {
 public:
  void put(const std::string& key, const std::string& bytes) override {
    if (fail_puts > 0) {
      --fail_puts;
      throw StoreError("object store: cannot write " + key);
    }
    MemoryStore::put(key, bytes);
  }
  int fail_puts = 0;
};

// A server driven by the real loop in simulated time, with two silo endpoints the test reads.
struct ServerHarness {
  testutil::TempDir dir;
  Args args;
  InprocBus bus;
  ManualClock clock;
  SimulatedTimeTransport server_end{bus.endpoint(0), clock};
  std::unique_ptr<Transport> silo1 = bus.endpoint(1), silo2 = bus.endpoint(2);
  MemoryStore store;

  explicit ServerHarness(const std::vector<std::string>& overrides)
      : args(testutil::small_args(dir.path(), dir / "log", overrides)) {}
  ExitCode run() {
    cross_silo::ServerManager server(args, model::create(args, 10), server_end, store, nullptr,
                                     nullptr, clock);
    server.start();
    cross_silo::DriverOptions options;
    options.quiet_interval = seconds_to_duration(args.resend_interval_s);
    return cross_silo::drive(server, server_end, clock, options, *quiet_logger());
  }
};

}  // namespace

TEST(DriverLoop, ServerGivesUpAtTheOnlineDeadlineInSimulatedTime) {
  ServerHarness h({"comm_args.online_timeout_s=3600", "comm_args.resend_interval_s=600"});
  auto code = h.run();
  EXPECT_EQ(code, ExitCode::kDeadline);
  EXPECT_GE(h.server_end.waited, 3600s);
  EXPECT_LT(h.server_end.waited, 3601s) << "it stops at the deadline, not later";
  // 1 CHECK_CLIENT_STATUS at start, one more every 600 s of silence (5 before the deadline),
  // then FINISH(ABORTED).
  auto to2 = drain(*h.silo2);
  ASSERT_EQ(to2.size(), 7u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(to2[i].type, MsgType::kCheckClientStatus);
  EXPECT_EQ(to2.back().type, MsgType::kFinish);
  EXPECT_EQ(to2.back().status, "ABORTED");
}

// Silo 1's master on simulated time, with the server's end of the bus for the test to play.
struct SiloHarness {
  testutil::TempDir dir;
  Args args;
  FederatedDataset dataset;
  InprocBus bus;
  ManualClock clock;
  std::unique_ptr<Transport> server_end = bus.endpoint(0);
  SimulatedTimeTransport silo_end{bus.endpoint(1), clock};
  FlakyStore store;
  std::unique_ptr<ClassificationTrainer> trainer;
  std::unique_ptr<cross_silo::SiloMaster> master;

  explicit SiloHarness(const std::vector<std::string>& overrides) {
    testutil::make_synthetic_mnist(dir.path(), 100, 20);
    args = testutil::small_args(dir.path(), dir / "log", overrides);
    auto [d, classes] = data::load_cross_silo(args);
    dataset = std::move(d);
    trainer = std::make_unique<ClassificationTrainer>(args);
    master = std::make_unique<cross_silo::SiloMaster>(
        args, 1, model::create(args, classes), *trainer, dataset, silo_end, store, nullptr, clock);
    master->start();
  }
  ExitCode run() { return cross_silo::drive(*master, silo_end, clock, {}, *quiet_logger()); }
};

TEST(DriverLoop, SiloMasterLeavesAtItsDeadlineAndSaysWhy) {
  SiloHarness h({"comm_args.online_timeout_s=120"});
  EXPECT_EQ(h.run(), ExitCode::kDeadline);
  EXPECT_EQ(h.silo_end.waited, 120s);
  auto to_server = drain(*h.server_end);
  ASSERT_EQ(to_server.size(), 2u);
  EXPECT_EQ(to_server[0].status, "ONLINE");
  EXPECT_EQ(to_server[1].status, "OFFLINE");
  EXPECT_EQ(to_server[1].metrics["reason"], "deadline passed");
}

TEST(DriverLoop, AnyMessageFromTheServerExtendsTheSilosDeadline) {
  SiloHarness h({"comm_args.online_timeout_s=10", "comm_args.round_timeout_s=50"});
  Message check;
  check.type = MsgType::kCheckClientStatus;
  check.id = "0-1";
  check.run_id = h.args.run_id;
  check.receiver = 1;
  h.server_end->send(check);
  EXPECT_EQ(h.run(), ExitCode::kDeadline);
  EXPECT_EQ(h.silo_end.waited, 100s) << "after a message the silo waits 2 x round_timeout_s";
}

TEST(DriverLoop, ServerAsksARoundAgainRoundRetriesTimesThenGivesUpInSimulatedTime) {
  ServerHarness h({"comm_args.round_timeout_s=100", "comm_args.round_retries=2",
                   "comm_args.resend_interval_s=1000"});
  for (int64_t k : {1, 2}) {
    Message online;
    online.type = MsgType::kClientStatus;
    online.id = std::to_string(k) + "-1";
    online.run_id = h.args.run_id;
    online.sender = k;
    online.status = "ONLINE";
    (k == 1 ? h.silo1 : h.silo2)->send(online);
  }
  auto code = h.run();
  EXPECT_EQ(code, ExitCode::kDeadline);
  EXPECT_GE(h.server_end.waited, 300s) << "the round's deadline and two retries";
  EXPECT_LT(h.server_end.waited, 301s);
  int requests = 0;
  for (const auto& m : drain(*h.silo2)) requests += m.type == MsgType::kInitConfig ? 1 : 0;
  EXPECT_EQ(requests, 3) << "round 0 asked once and again twice";
}

namespace {
// Plays the server's side of round requests against a SiloHarness.
struct Requests {
  SiloHarness& h;
  BlobRef global;
  explicit Requests(SiloHarness& harness) : h(harness) {
    drain(*h.server_end);  // ONLINE
    global = cross_silo::put_model(h.store, cross_silo::global_blob_key(h.args.run_id, 0),
                                   state_of(h.master->model().module()));
  }
  void operator()(int64_t round, BlobRef ref, const std::string& id, BlobRef control = {}) {
    Message m;
    m.type = MsgType::kSyncModel;
    m.id = id;
    m.run_id = h.args.run_id;
    m.receiver = 1;
    m.round = round;
    m.model = ref;
    m.control = control;
    m.data_silo_index = 0;
    h.master->handle(m);
  }
};
}  // namespace

// What a silo sends but its progress reports (CLIENT_STATUS TRAINING / UPLOADING).
static std::vector<Message> answers(std::vector<Message> sent) {
  sent.erase(std::remove_if(sent.begin(), sent.end(),
                            [](const Message& m) { return m.type == MsgType::kClientStatus; }),
             sent.end());
  return sent;
}

TEST(SiloMaster, ReportsTrainingAndUploadingBeforeItsModel) {
  SiloHarness h({"train_args.comm_round=6"});
  Requests request(h);
  request(0, request.global, "0-1");
  auto sent = drain(*h.server_end);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].type, MsgType::kClientStatus);
  EXPECT_EQ(sent[0].status, "TRAINING");
  EXPECT_EQ(sent[0].round, 0);
  EXPECT_EQ(sent[1].status, "UPLOADING");
  EXPECT_EQ(sent[2].type, MsgType::kSendModel);
  EXPECT_GT(sent[2].metrics["system"]["rss_mib"].get<double>(), 1.0) << "its own figures";
}

TEST(SiloMaster, AnAnswerSentAgainIsANewMessageWithTheSameModel) {
  SiloHarness h({"train_args.comm_round=6"});
  Requests request(h);
  request(0, request.global, "0-1");
  auto first = answers(drain(*h.server_end));
  request(0, request.global, "0-2");  // the server could not fetch the blob, or restarted
  auto again = answers(drain(*h.server_end));
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(again[0].id, first[0].id) << "a repeated id is dropped by the server's transport";
  EXPECT_EQ(again[0].model.key, first[0].model.key);
  EXPECT_EQ(again[0].model.sha256, first[0].model.sha256) << "not trained again";
  EXPECT_EQ(again[0].metrics["train_ms"], first[0].metrics["train_ms"]);
}

TEST(SiloMaster, AFailedUploadIsKeptAndUploadedWhenTheServerAsksAgain) {
  SiloHarness h({"train_args.comm_round=6"});
  Requests request(h);
  h.store.fail_puts = 1;
  request(0, request.global, "0-1");
  EXPECT_TRUE(answers(drain(*h.server_end)).empty()) << "no SEND_MODEL without a blob";
  request(0, request.global, "0-2");
  auto replies = answers(drain(*h.server_end));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].type, MsgType::kSendModel);
  EXPECT_NO_THROW(h.store.get(replies[0].model.key));
}

TEST(SiloMaster, DropsRequestsForRoundsThatCannotExistOrForeignBlobs) {
  SiloHarness h({"train_args.comm_round=6"});
  Requests request(h);
  auto global = request.global;
  request(1000000, global, "0-1");  // would make every real request look stale
  auto foreign = global;
  foreign.key = "other-run/silo_2/round_0.safetensors";
  h.store.put(foreign.key, h.store.get(global.key));
  request(0, foreign, "0-2");
  EXPECT_TRUE(drain(*h.server_end).empty()) << "nothing trained, nothing uploaded";
  request(0, global, "0-3");
  auto replies = answers(drain(*h.server_end));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].type, MsgType::kSendModel);
  EXPECT_EQ(replies[0].round, 0);
  EXPECT_EQ(replies[0].model.key, cross_silo::silo_blob_key(h.args.run_id, 1, 0));
}

TEST(SiloMaster, ScaffoldTrainsOnlyWithItsOwnCorrectionAndOtherRulesTakeNone) {
  auto zero_correction = [](SiloHarness& h, int64_t silo) {
    auto zero = clone_state(state_of(h.master->model().module()));
    for (auto& [name, t] : zero) t.zero_();
    return cross_silo::put_model(h.store, cross_silo::control_blob_key(h.args.run_id, silo, 0),
                                 zero);
  };
  SiloHarness h({"train_args.comm_round=6", "train_args.federated_optimizer=SCAFFOLD"});
  Requests request(h);
  request(0, request.global, "0-1");
  EXPECT_TRUE(answers(drain(*h.server_end)).empty()) << "SCAFFOLD without its correction";
  request(0, request.global, "0-2", zero_correction(h, 2));
  EXPECT_TRUE(answers(drain(*h.server_end)).empty()) << "silo 2's correction";
  request(0, request.global, "0-3", zero_correction(h, 1));
  auto replies = answers(drain(*h.server_end));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].type, MsgType::kSendModel);

  SiloHarness fedavg({"train_args.comm_round=6"});
  Requests plain(fedavg);
  plain(0, plain.global, "0-1", zero_correction(fedavg, 1));
  EXPECT_TRUE(answers(drain(*fedavg.server_end)).empty()) << "FedAvg takes no correction";
  plain(0, plain.global, "0-2");
  EXPECT_EQ(answers(drain(*fedavg.server_end)).size(), 1u);
}
