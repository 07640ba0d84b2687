#include "server/server_manager.h"

#include <gtest/gtest.h>

#include "comm/inproc_transport.h"
#include "fedsilo/error.h"
#include "protocol/blob_keys.h"
#include "protocol/model_exchange.h"
#include "protocol_test_util.h"
#include "test_util.h"

using namespace fedsilo;
using namespace fedsilo::comm;
using fedsilo::cross_silo::get_model;
using fedsilo::cross_silo::put_model;
using namespace std::chrono_literals;

namespace {

struct Harness {
  testutil::TempDir dir;
  Args args;
  InprocBus bus;
  MemoryStore store;
  std::unique_ptr<Transport> server_end = bus.endpoint(0);
  std::unique_ptr<Transport> silo1 = bus.endpoint(1), silo2 = bus.endpoint(2);
  std::unique_ptr<cross_silo::ServerManager> server;
  int evaluations = 0;
  int seq = 0;

  explicit Harness(int retention = 0, std::vector<std::string> extra = {}) {
    extra.push_back("train_args.comm_round=2");
    extra.push_back("comm_args.blob_retention_rounds=" + std::to_string(retention));
    args = testutil::small_args(dir.path(), dir / "log", extra);
    Args model_args = args;
    server = std::make_unique<cross_silo::ServerManager>(
        args, model::create(model_args, 10), *server_end, store, [this](Model&, int64_t) {
          ++evaluations;
          return nlohmann::json{{"test_acc", 0.5}};
        });
  }
  Message from(int64_t silo, MsgType type, int64_t round = -1) {
    return testutil::silo_message(args.run_id, silo, type, round, seq);
  }
  Message status(int64_t silo, const std::string& s) {
    auto m = from(silo, MsgType::kClientStatus);
    m.status = s;
    return m;
  }
  // A silo's answer to `sync`: the global model it was sent, scaled.
  Message model_from(int64_t silo, const Message& sync, float scale, int64_t samples) {
    auto global = get_model(store, sync.model, state_of(server->model().module()), "test");
    for (auto& [n, t] : global) t.mul_(scale);
    auto m = from(silo, MsgType::kSendModel, sync.round);
    m.model = put_model(store, cross_silo::silo_blob_key(args.run_id, silo, sync.round), global);
    m.num_samples = samples;
    return m;
  }
  // Handshake with both silos; returns the INIT_CONFIG each received.
  std::pair<Message, Message> start_round_0() {
    server->start();
    server->handle(status(1, "ONLINE"));
    server->handle(status(2, "ONLINE"));
    next(*silo1);  // CHECK_CLIENT_STATUS
    next(*silo2);
    auto init1 = next(*silo1);
    return {init1, next(*silo2)};
  }
  Message next(Transport& t) {
    auto m = t.receive(0ms);
    if (!m) throw std::runtime_error("expected a message");
    return *m;
  }
};

}  // namespace

TEST(ServerManager, HandshakeThenRoundsThenFinish) {
  Harness h;
  h.server->start();
  EXPECT_EQ(h.next(*h.silo1).type, MsgType::kCheckClientStatus);
  EXPECT_EQ(h.next(*h.silo2).type, MsgType::kCheckClientStatus);
  h.server->handle(h.status(1, "ONLINE"));
  EXPECT_FALSE(h.silo1->receive(0ms).has_value()) << "no round before every silo is online";
  h.server->handle(h.status(1, "ONLINE"));  // repeated: harmless
  h.server->handle(h.status(2, "ONLINE"));
  auto init1 = h.next(*h.silo1), init2 = h.next(*h.silo2);
  EXPECT_EQ(init1.type, MsgType::kInitConfig);
  EXPECT_EQ(init1.round, 0);
  EXPECT_EQ(init1.model.key, init2.model.key) << "the global model is uploaded once per round";
  EXPECT_NE(init1.data_silo_index, init2.data_silo_index);

  auto w0 = get_model(h.store, init1.model, state_of(h.server->model().module()), "t")[0].second;
  h.server->handle(h.model_from(1, init1, 1.0f, 10));
  h.server->handle(h.model_from(2, init2, 3.0f, 30));
  EXPECT_EQ(h.evaluations, 1);
  EXPECT_THROW(h.store.get(init1.model.key), Error)
      << "the previous round's global model is removed";  // round 0 is evaluated
  auto sync1 = h.next(*h.silo1);
  EXPECT_EQ(sync1.type, MsgType::kSyncModel);
  EXPECT_EQ(sync1.round, 1);
  // FedAvg: (1 * 10 + 3 * 30) / 40 = 2.5 times the starting model.
  auto w1 = get_model(h.store, sync1.model, state_of(h.server->model().module()), "t")[0].second;
  EXPECT_TRUE(torch::allclose(w1, w0 * 2.5f, 1e-5, 1e-6));

  auto sync2 = h.next(*h.silo2);
  h.server->handle(h.model_from(1, sync1, 1.0f, 10));
  h.server->handle(h.model_from(2, sync2, 1.0f, 10));
  EXPECT_TRUE(h.server->done());
  EXPECT_EQ(h.evaluations, 2);  // the last round is always evaluated
  auto fin = h.next(*h.silo1);
  EXPECT_EQ(fin.type, MsgType::kFinish);
  EXPECT_EQ(fin.status, "COMPLETED");
  EXPECT_FALSE(fin.model.empty());
}

TEST(ServerManager, DropsDuplicateStaleUnknownAndCorruptModels) {
  Harness h;
  auto [init1, init2] = h.start_round_0();
  auto m1 = h.model_from(1, init1, 1.0f, 10);
  h.server->handle(m1);
  h.server->handle(m1);  // duplicate
  auto stale = h.model_from(1, init1, 1.0f, 10);
  stale.round = 7;
  h.server->handle(stale);
  auto stranger = h.model_from(9, init1, 1.0f, 10);
  h.server->handle(stranger);  // not in client_id_list
  auto corrupt = h.model_from(2, init2, 1.0f, 10);
  corrupt.model.sha256 = std::string(64, '0');
  h.server->handle(corrupt);
  EXPECT_NE(h.server->waiting_for().find("silos [2]"), std::string::npos)
      << h.server->waiting_for();
  EXPECT_FALSE(h.silo1->receive(0ms).has_value()) << "round 0 must not end early";
  h.server->handle(h.model_from(2, init2, 1.0f, 10));
  EXPECT_EQ(h.next(*h.silo1).type, MsgType::kSyncModel);
}

TEST(ServerManager, DeadlineTellsSilosToStopAndNamesWhatWasAwaited) {
  Harness h;
  h.server->start();
  h.server->handle(h.status(1, "ONLINE"));
  h.next(*h.silo1);
  h.next(*h.silo2);
  EXPECT_EQ(h.server->waiting_for(), "silos [2] to come online");
  h.server->on_deadline();
  EXPECT_EQ(h.server->exit_code(), ExitCode::kDeadline);
  auto fin = h.next(*h.silo2);
  EXPECT_EQ(fin.type, MsgType::kFinish);
  EXPECT_EQ(fin.status, "ABORTED");
  EXPECT_TRUE(h.server->done());
}

TEST(ServerManager, RetentionKeepsTheLastRoundsBlobs) {
  Harness h(/*retention=*/1);
  auto [init1, init2] = h.start_round_0();
  auto up1 = h.model_from(1, init1, 1.0f, 10);
  h.server->handle(up1);
  h.server->handle(h.model_from(2, init2, 1.0f, 10));
  EXPECT_NO_THROW(h.store.get(init1.model.key)) << "round 0 is the last finished round: kept";
  EXPECT_NO_THROW(h.store.get(up1.model.key));
  auto sync1 = h.next(*h.silo1), sync2 = h.next(*h.silo2);
  h.server->handle(h.model_from(1, sync1, 1.0f, 10));
  h.server->handle(h.model_from(2, sync2, 1.0f, 10));
  EXPECT_THROW(h.store.get(init1.model.key), Error) << "round 0 is two rounds old: removed";
  EXPECT_THROW(h.store.get(up1.model.key), Error);
  EXPECT_NO_THROW(h.store.get(sync1.model.key));
}

TEST(ServerManager, ResendsTheRoundRequestToSilosItStillWaitsFor) {
  Harness h;
  auto [init1, init2] = h.start_round_0();
  h.server->handle(h.model_from(1, init1, 1.0f, 10));
  h.server->resend();
  EXPECT_FALSE(h.silo1->receive(0ms).has_value()) << "silo 1 has answered";
  auto again = h.next(*h.silo2);
  EXPECT_EQ(again.type, MsgType::kInitConfig);
  EXPECT_EQ(again.round, 0);
  EXPECT_NE(again.id, init2.id)
      << "a new message, so the silo's transport does not drop it as a repeat";
  EXPECT_EQ(again.model.key, init2.model.key);
  h.server->handle(h.status(2, "ONLINE"));  // silo 2 restarted
  EXPECT_EQ(h.next(*h.silo2).type, MsgType::kInitConfig);
}

// Tried as an attacker on the same broker and bucket would (issue: security between
// organisations). Each forged or poisoned input is dropped or rejected, and the run goes on.

TEST(ServerManager, BlobKeysAreDerivedNeverTakenFromTheMessage) {
  Harness h(/*retention=*/0);
  h.store.put("victim/final.safetensors", "precious");
  auto [init1, init2] = h.start_round_0();
  // Silo 2's real upload, announced by a forged message "from silo 1" (size and hash match).
  auto real2 = h.model_from(2, init2, 1.0f, 10);
  auto forged = h.model_from(1, init1, 1.0f, 10);
  forged.model = real2.model;
  h.server->handle(forged);
  // Another object with a matching size and hash: still not silo 1's key.
  auto victim = h.model_from(1, init1, 1.0f, 10);
  h.store.put("victim/final.safetensors", h.store.get(victim.model.key));
  victim.model.key = "victim/final.safetensors";
  h.server->handle(victim);
  EXPECT_NE(h.server->waiting_for().find("silos [1, 2]"), std::string::npos)
      << h.server->waiting_for();
  h.server->handle(h.model_from(1, init1, 1.0f, 10));
  h.server->handle(real2);
  EXPECT_EQ(h.next(*h.silo1).type, MsgType::kSyncModel);
  EXPECT_NO_THROW(h.store.get("victim/final.safetensors"))
      << "the server deletes only keys it derived itself";
}

TEST(ServerManager, NonFiniteUpdateIsRejectedAndTheRoundGoesOnWithoutIt) {
  Harness h;
  auto [init1, init2] = h.start_round_0();
  auto first = get_model(h.store, init1.model, state_of(h.server->model().module()), "t");
  auto poisoned = h.model_from(1, init1, std::numeric_limits<float>::quiet_NaN(), 10);
  h.server->handle(poisoned);
  h.server->handle(h.model_from(2, init2, 2.0f, 10));
  auto sync = h.next(*h.silo1);
  EXPECT_EQ(sync.type, MsgType::kSyncModel) << "the round closed with silo 2's update alone";
  auto global = get_model(h.store, sync.model, state_of(h.server->model().module()), "t");
  for (const auto& [name, t] : global) EXPECT_TRUE(torch::isfinite(t).all().item<bool>()) << name;
  EXPECT_TRUE(torch::allclose(global[0].second, first[0].second * 2.0f));
  auto line = nlohmann::json::parse(testutil::read_file(h.dir / "log/run_0/metrics.jsonl"));
  EXPECT_NE(line["silos"][0]["rejected"].get<std::string>().find("NaN"), std::string::npos)
      << line.dump();
}

TEST(ServerManager, InflatedSampleCountIsRejected) {
  Harness h(/*retention=*/1, {"train_args.max_samples_per_silo=1000"});
  h.server->set_data_silo_sizes({{0, 40}, {1, 40}, {2, 40}, {3, 40}});
  auto [init1, init2] = h.start_round_0();
  h.server->handle(h.model_from(1, init1, 5.0f, 1000000000000000ll));  // FedAvg weight 1e15
  h.server->handle(h.model_from(2, init2, 1.0f, 41));  // more than its data silo holds
  auto sync = h.next(*h.silo1);
  EXPECT_EQ(sync.type, MsgType::kSyncModel);
  auto global = get_model(h.store, sync.model, state_of(h.server->model().module()), "t");
  auto first = get_model(h.store, init1.model, state_of(h.server->model().module()), "t");
  EXPECT_TRUE(global[0].second.equal(first[0].second))
      << "both updates rejected: the global model stays as it was";
}

TEST(ServerManager, OversizedBlobIsRejectedBeforeAnyByteIsRead) {
  Harness h;
  auto [init1, init2] = h.start_round_0();
  auto big = h.model_from(1, init1, 1.0f, 10);
  big.model.size = int64_t{1} << 30;  // a 1 GiB blob for a 31 KB model
  h.store.put(big.model.key, std::string(1 << 20, 'x'));
  h.server->handle(big);
  // Declared honestly small, but the object behind it is larger: the read stops at the size.
  auto liar = h.model_from(1, init1, 1.0f, 10);
  h.store.put(liar.model.key, std::string(liar.model.size + 4096, 'x'));
  h.server->handle(liar);
  EXPECT_NE(h.server->waiting_for().find("silos [1, 2]"), std::string::npos);
  h.server->handle(h.model_from(1, init1, 1.0f, 10));
  h.server->handle(h.model_from(2, init2, 1.0f, 10));
  EXPECT_EQ(h.next(*h.silo1).type, MsgType::kSyncModel);
}

TEST(ServerManager, OneEventStreamTellsEverySubscriberTheRunInOrder) {
  // The recorder and the dashboard hear the run through the same stream a user's observer can
  // join; this one writes down what it hears.
  struct Log : cross_silo::RunObserver {
    std::vector<std::string> seen;
    void set_state(const std::string& s) override { seen.push_back("state " + s); }
    void round_started(int64_t r, const std::vector<int64_t>& asked) override {
      seen.push_back("start " + std::to_string(r) + " asked " + std::to_string(asked.size()));
    }
    void silo_reported(int64_t r, const cross_silo::SiloRoundStats& s, int64_t) override {
      seen.push_back("report " + std::to_string(r) + " silo " + std::to_string(s.silo));
    }
    void round_finished(const cross_silo::RoundStats& s, int64_t up, int64_t) override {
      seen.push_back("finish " + std::to_string(s.round) + (up > 0 ? " up" : " none"));
    }
    void run_ended(const std::string& status) override { seen.push_back("end " + status); }
  } log;
  Harness h;
  h.server->subscribe(log);
  auto [init1, init2] = h.start_round_0();
  h.server->handle(h.model_from(2, init2, 1.0f, 10));
  h.server->handle(h.model_from(1, init1, 1.0f, 10));
  auto sync1 = h.next(*h.silo1), sync2 = h.next(*h.silo2);
  h.server->handle(h.model_from(1, sync1, 1.0f, 10));
  h.server->handle(h.model_from(2, sync2, 1.0f, 10));
  ASSERT_TRUE(h.server->done());
  std::vector<std::string> want = {"state waiting for silos", "start 0 asked 2", "report 0 silo 2",
                                   "report 0 silo 1",         "finish 0 up",     "start 1 asked 2",
                                   "report 1 silo 1",         "report 1 silo 2", "finish 1 up",
                                   "end completed",           "state completed"};
  EXPECT_EQ(log.seen, want);
  // The recorder is a subscriber too: its lines are the rounds the stream reported.
  auto lines = testutil::read_file(h.server->output_dir() + "/metrics.jsonl");
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 2);
}
