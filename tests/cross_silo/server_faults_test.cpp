// The server's answers to faults, in simulated time (the test owns the clock, nothing sleeps):
// quorum and retries at a round's deadline, offline silos, a failed blob fetch asked again, and
// the checkpoint a restarted server resumes from.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "comm/inproc_transport.h"
#include "protocol/blob_keys.h"
#include "protocol/model_exchange.h"
#include "server/server_manager.h"
#include "fedsilo/error.h"
#include "ml/safetensors.h"
#include "protocol_test_util.h"
#include "test_util.h"

using namespace fedsilo;
using namespace fedsilo::comm;
using fedsilo::cross_silo::get_model;
using fedsilo::cross_silo::put_model;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using testutil::ManualClock;

// A store whose next `fail_gets` reads fail like a transient S3 error.
class FlakyStore : public MemoryStore {
 public:
  using MemoryStore::get;
  std::string get(const std::string& key, int64_t max_bytes) override {
    if (fail_gets > 0) {
      --fail_gets;
      throw StoreError("s3: GET " + key + ": HTTP 503 SlowDown");
    }
    return MemoryStore::get(key, max_bytes);
  }
  int fail_gets = 0;
};

// A server and three silo endpoints; the silos are played by the test.
struct Federation {
  testutil::TempDir dir;
  Args args;
  ManualClock clock;
  InprocBus bus;
  FlakyStore store;
  std::unique_ptr<Transport> server_end = bus.endpoint(0);
  std::map<int64_t, std::unique_ptr<Transport>> silo;
  std::unique_ptr<cross_silo::ServerManager> server;
  int seq = 0;

  explicit Federation(std::vector<std::string> extra = {}) {
    std::vector<std::string> sets = {
        "train_args.client_id_list=[1, 2, 3]", "train_args.client_num_in_total=3",
        "train_args.client_num_per_round=3",   "train_args.comm_round=3",
        "comm_args.round_timeout_s=100",       "comm_args.online_timeout_s=50"};
    sets.insert(sets.end(), extra.begin(), extra.end());
    args = testutil::small_args(dir.path(), dir / "log", sets);
    for (int64_t k : {1, 2, 3}) silo[k] = bus.endpoint(k);
    restart_server();
  }
  // A new server process: same config, same output folder, nothing kept in memory.
  void restart_server(std::unique_ptr<Aggregator> aggregator = nullptr) {
    server.reset();
    Args model_args = args;
    server = std::make_unique<cross_silo::ServerManager>(
        args, model::create(model_args, 10), *server_end, store,
        [](Model&, int64_t) {
          return nlohmann::json{{"test_acc", 0.5}};
        },
        std::move(aggregator), clock);
  }
  Message from(int64_t k, MsgType type, int64_t round = -1) {
    return testutil::silo_message(args.run_id, k, type, round, seq);
  }
  void say(int64_t k, const std::string& status) {
    auto m = from(k, MsgType::kClientStatus);
    m.status = status;
    server->handle(m);
  }
  // Everything silo k has been sent since the last call.
  std::vector<Message> inbox(int64_t k) {
    std::vector<Message> out;
    while (auto m = silo[k]->receive(0ms)) out.push_back(*m);
    return out;
  }
  std::optional<Message> last_request(int64_t k) {
    std::optional<Message> r;
    for (auto& m : inbox(k)) {
      if (m.type == MsgType::kInitConfig || m.type == MsgType::kSyncModel ||
          m.type == MsgType::kFinish)
        r = m;
    }
    return r;
  }
  StateDict layout() { return state_of(server->model().module()); }
  // Silo k's answer to `request`: the global model scaled by `scale`.
  Message answer(int64_t k, const Message& request, float scale, int64_t samples = 10) {
    auto global = get_model(store, request.model, layout(), "test");
    for (auto& [n, t] : global) t.mul_(scale);
    auto m = from(k, MsgType::kSendModel, request.round);
    m.model = put_model(store, cross_silo::silo_blob_key(args.run_id, k, request.round), global);
    m.num_samples = samples;
    m.metrics["local_steps"] = 1;
    return m;
  }
  std::map<int64_t, Message> start_all_online() {
    server->start();
    for (int64_t k : {1, 2, 3}) say(k, "ONLINE");
    std::map<int64_t, Message> requests;
    for (int64_t k : {1, 2, 3}) requests[k] = last_request(k).value();
    return requests;
  }
  std::vector<nlohmann::json> metrics() {
    std::ifstream in(dir / "log/run_0/metrics.jsonl");
    std::vector<nlohmann::json> out;
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  void pass_deadline() {
    clock.advance(server->deadline() - clock.now());
    server->on_deadline();
  }
};

torch::Tensor first_tensor(const StateDict& s) { return s.front().second; }

// FedAvg that counts the rounds it has run: state a restarted server must carry over.
class CountingAggregator : public FedAvgAggregator {
 public:
  void reset(const StateDict& global) override {
    FedAvgAggregator::reset(global);
    ++rounds;
  }
  StateDict saved_state() const override {
    return {{"rounds", torch::tensor({rounds}, torch::kInt64)}};
  }
  void restore_state(const StateDict& state) override {
    rounds = state.at(0).second.item<int64_t>();
  }
  int64_t rounds = 0;
};

}  // namespace

TEST(ServerQuorum, TheDeadlineClosesARoundWithAQuorumAndFedAvgWeightsOnlyWhatArrived) {
  Federation f({"train_args.min_clients_per_round=2"});
  auto req = f.start_all_online();
  auto w0 = first_tensor(get_model(f.store, req[1].model, f.layout(), "t"));
  f.server->handle(f.answer(1, req[1], 1.0f, 10));
  f.server->handle(f.answer(2, req[2], 4.0f, 30));
  EXPECT_FALSE(f.last_request(1)) << "silo 3 is online: the round waits for it until the deadline";
  auto late = f.answer(3, req[3], 100.0f, 10);
  f.pass_deadline();
  auto sync = f.last_request(1).value();
  ASSERT_EQ(sync.type, MsgType::kSyncModel);
  EXPECT_EQ(sync.round, 1);
  // (1 * 10 + 4 * 30) / 40 = 3.25 times the starting model: silo 3 weighs nothing.
  auto w1 = first_tensor(get_model(f.store, sync.model, f.layout(), "t"));
  EXPECT_TRUE(torch::allclose(w1, w0 * 3.25f, 1e-5, 1e-6));
  f.server->handle(late);  // round 0's model, arriving in round 1: dropped by its round id
  EXPECT_NE(f.server->waiting_for().find("silos [1, 2, 3]"), std::string::npos)
      << f.server->waiting_for();
  auto line = f.metrics().at(0);
  EXPECT_EQ(line["selected"], nlohmann::json({1, 2, 3}));
  ASSERT_EQ(line["dropped"].size(), 1u) << line.dump();
  EXPECT_EQ(line["dropped"][0]["silo"], 3);
  EXPECT_EQ(line["dropped"][0]["reason"], "no model by the deadline");
  EXPECT_EQ(line["silos"].size(), 2u);
}

// A silo's answer to CHECK_CLIENT_STATUS says it is there; only the ONLINE of a (re)start or a
// reconnect says it may have missed its request. (In simulate every silo's answer to the first
// CHECK arrived after round 0 began, and each uploaded round 0 twice.)
TEST(ServerQuorum, AnAnswerToCheckClientStatusIsNotTakenForARejoin) {
  Federation f;
  auto req = f.start_all_online();
  ASSERT_EQ(req[1].round, 0);
  auto answer = f.from(1, MsgType::kClientStatus);
  answer.status = comm::Status::kOnline;
  answer.metrics["answer"] = true;
  f.server->handle(answer);
  EXPECT_FALSE(f.last_request(1)) << "the request was sent again for an answer";
  auto odd = f.from(1, MsgType::kClientStatus);
  odd.status = comm::Status::kOnline;
  odd.metrics["answer"] = "yes";  // not a boolean: no answer, a rejoin
  f.server->handle(odd);
  EXPECT_EQ(f.last_request(1).value().round, 0);
  f.say(1, comm::Status::kOnline);  // restarted: may have missed its request
  EXPECT_EQ(f.last_request(1).value().round, 0);
}

// A silo taken for offline (its will came, e.g. as the broker went down) whose ONLINE was lost
// is asked whether it is there, and its answer gets it the round's request again.
TEST(ServerQuorum, ASiloTakenForOfflineIsAskedAndItsAnswerGetsItsRequest) {
  Federation f;
  f.server->start();
  f.say(1, comm::Status::kOnline);
  f.say(2, comm::Status::kOnline);
  f.say(3, comm::Status::kOnline);
  f.say(3, comm::Status::kOffline);  // its will
  for (int64_t k : {1, 2}) f.server->handle(f.answer(k, f.last_request(k).value(), 1.0f));
  // Round 0 waits for silo 3 (quorum 3), which it takes for offline.
  f.inbox(3);
  f.server->on_quiet();
  bool asked = false;
  for (auto& m : f.inbox(3)) asked |= m.type == MsgType::kCheckClientStatus;
  EXPECT_TRUE(asked) << "an offline silo the round waits for is asked whether it is there";
  auto answer = f.from(3, MsgType::kClientStatus);
  answer.status = comm::Status::kOnline;
  answer.metrics["answer"] = true;
  f.server->handle(answer);
  auto req = f.last_request(3);
  ASSERT_TRUE(req) << "its answer got it the round's request again (its own may be lost)";
  EXPECT_EQ(req->round, 0);
}

TEST(ServerQuorum, ARunWhoseEveryRoundIsRejectedEndsWithItsOwnExitCode) {
  Federation f;
  auto req = f.start_all_online();
  for (int64_t r = 0; r < 3; ++r) {
    for (int64_t k : {1, 2, 3}) f.server->handle(f.answer(k, req[k], NAN));  // refused: NaN
    for (int64_t k : {1, 2, 3}) {
      if (auto m = f.last_request(k)) req[k] = *m;
    }
  }
  ASSERT_TRUE(f.server->done());
  EXPECT_EQ(f.server->exit_code(), ExitCode::kNoProgress);
  for (const auto& line : f.metrics()) EXPECT_TRUE(line.value("aggregate_rejected", false));
}

TEST(ServerQuorum, BelowQuorumTheRoundIsAskedAgainThenTheRunGivesUp) {
  Federation f({"comm_args.round_retries=2"});  // quorum: all three
  auto req = f.start_all_online();
  f.server->handle(f.answer(1, req[1], 1.0f));
  f.server->handle(f.answer(2, req[2], 1.0f));
  for (int retry = 1; retry <= 2; ++retry) {
    f.pass_deadline();
    EXPECT_FALSE(f.server->done()) << "retry " << retry;
    EXPECT_EQ(f.server->deadline() - f.clock.now(), seconds_to_duration(100))
        << "each retry waits one more round_timeout_s";
    auto again = f.last_request(3);
    ASSERT_TRUE(again) << "retry " << retry << " asks silo 3 again";
    EXPECT_EQ(again->round, 0);
    EXPECT_FALSE(f.last_request(1)) << "silo 1 has answered and is not asked again";
  }
  f.pass_deadline();
  EXPECT_TRUE(f.server->done());
  EXPECT_EQ(f.server->exit_code(), ExitCode::kDeadline);
  for (int64_t k : {1, 2, 3}) EXPECT_EQ(f.last_request(k).value().status, "ABORTED");
  EXPECT_TRUE(f.metrics().empty()) << "round 0 never completed";
}

TEST(ServerQuorum, ASiloThatAnswersDuringARetryCompletesTheRound) {
  Federation f;
  auto req = f.start_all_online();
  f.server->handle(f.answer(1, req[1], 1.0f));
  f.server->handle(f.answer(2, req[2], 1.0f));
  f.pass_deadline();
  f.server->handle(f.answer(3, f.last_request(3).value(), 1.0f));
  EXPECT_EQ(f.last_request(1).value().round, 1);
  EXPECT_EQ(f.metrics().at(0)["retries"], 1);
  EXPECT_TRUE(f.metrics().at(0)["dropped"].empty());
}

TEST(ServerQuorum, AnOfflineSiloIsNotWaitedForOnceTheOthersAreAQuorum) {
  Federation f({"train_args.min_clients_per_round=2"});
  auto req = f.start_all_online();
  f.say(3, "OFFLINE");  // its last will: it died before training
  f.server->handle(f.answer(1, req[1], 1.0f));
  EXPECT_FALSE(f.last_request(1)) << "one model is below the quorum of two";
  f.server->handle(f.answer(2, req[2], 1.0f));
  auto sync = f.last_request(1);
  ASSERT_TRUE(sync) << "closed without waiting for the deadline";
  EXPECT_EQ(sync->round, 1);
  EXPECT_FALSE(f.last_request(3)) << "an offline silo is not sent requests";
  EXPECT_EQ(f.metrics().at(0)["dropped"][0]["reason"], "offline");
  // Restarted, it says ONLINE and is given the round in progress.
  f.say(3, "ONLINE");
  auto rejoin = f.last_request(3);
  ASSERT_TRUE(rejoin);
  EXPECT_EQ(rejoin->round, 1);
  f.server->handle(f.answer(1, f.last_request(2).value(), 1.0f));  // same global model
  f.server->handle(f.answer(2, sync.value(), 1.0f));
  EXPECT_FALSE(f.last_request(1)) << "silo 3 is online again: round 1 waits for it";
  f.server->handle(f.answer(3, *rejoin, 1.0f));
  EXPECT_EQ(f.last_request(1).value().round, 2);
  EXPECT_TRUE(f.metrics().at(1)["dropped"].empty());
}

TEST(ServerQuorum, AtTheOnlineDeadlineAQuorumStartsTheRun) {
  Federation f({"train_args.min_clients_per_round=2"});
  f.server->start();
  f.say(1, "ONLINE");
  f.say(2, "ONLINE");
  EXPECT_FALSE(f.last_request(1));
  f.pass_deadline();
  EXPECT_EQ(f.last_request(1).value().type, MsgType::kInitConfig);
  EXPECT_FALSE(f.last_request(3));
  f.say(3, "ONLINE");  // late: given round 0 at once
  EXPECT_EQ(f.last_request(3).value().type, MsgType::kInitConfig);
}

TEST(ServerFaults, AFailedBlobFetchIsRetriedWhenTheSiloSendsItsAnswerAgain) {
  Federation f;
  auto req = f.start_all_online();
  f.server->handle(f.answer(1, req[1], 1.0f));
  f.server->handle(f.answer(2, req[2], 1.0f));
  auto reply = f.answer(3, req[3], 1.0f);
  f.store.fail_gets = 1;
  f.server->handle(reply);
  EXPECT_FALSE(f.last_request(1)) << "the fetch failed: still waiting for silo 3";
  f.server->resend();
  EXPECT_TRUE(f.last_request(3)) << "asked again";
  reply.id = "3-again";  // the silo sends its answer again as a new message (same blob)
  f.server->handle(reply);
  EXPECT_EQ(f.last_request(1).value().round, 1);
}

namespace {
// Runs 3 rounds straight, then again with the server killed after round 0 and restarted;
// returns the restarted federation after checking both end with the same model bytes.
std::unique_ptr<Federation> expect_resume_bit_for_bit(const std::vector<std::string>& extra) {
  // The uninterrupted run, played by the test.
  auto play = [](Federation& f, int64_t from_round, const std::map<int64_t, Message>& first) {
    auto req = first;
    for (int64_t r = from_round; r < 3; ++r) {
      for (int64_t k : {1, 2, 3}) f.server->handle(f.answer(k, req[k], 1.0f + 0.5f * k, 10 * k));
      for (int64_t k : {1, 2, 3}) {
        if (auto m = f.last_request(k)) req[k] = *m;
      }
    }
    return req;
  };
  Federation plain(extra);
  auto fin = play(plain, 0, plain.start_all_online());
  EXPECT_EQ(fin[1].type, MsgType::kFinish);
  auto expected = testutil::read_file(plain.dir / "log/run_0/final_model.safetensors");

  auto f = std::make_unique<Federation>(extra);
  auto req = f->start_all_online();
  for (int64_t k : {1, 2, 3}) f->server->handle(f->answer(k, req[k], 1.0f + 0.5f * k, 10 * k));
  EXPECT_EQ(f->metrics().size(), 1u);
  f->restart_server();  // killed after round 0: round 1's requests are lost with it
  auto resumed = f->start_all_online();
  EXPECT_EQ(resumed[1].type, MsgType::kSyncModel);
  EXPECT_EQ(resumed[1].round, 1) << "round 0 is not trained again";
  EXPECT_EQ(f->metrics().size(), 1u) << "metrics.jsonl is kept, not truncated";
  fin = play(*f, 1, resumed);
  EXPECT_EQ(fin[1].type, MsgType::kFinish);
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(testutil::read_file(f->dir / "log/run_0/final_model.safetensors"), expected);
  auto lines = f->metrics();
  EXPECT_EQ(lines.size(), 3u);
  for (size_t r = 0; r < lines.size(); ++r) EXPECT_EQ(lines[r]["round"], r);
  return f;
}
}  // namespace

TEST(ServerResume, ARestartedServerGoesOnAfterTheLastCompletedRoundBitForBit) {
  auto fp = expect_resume_bit_for_bit({});
  auto& f = *fp;
  // Restarted once more: finished, it trains nothing and tells the silos again.
  f.restart_server();
  f.server->start();
  EXPECT_TRUE(f.server->done());
  EXPECT_EQ(f.server->exit_code(), ExitCode::kCompleted);
  EXPECT_EQ(f.last_request(2).value().status, "COMPLETED");
  EXPECT_EQ(f.metrics().size(), 3u);
}

TEST(ServerResume, AServerOptimizersMomentsSurviveARestart) {
  // Yogi's moments after round 0 live only in the checkpoint: a restart that lost them would
  // step differently in rounds 1 and 2.
  expect_resume_bit_for_bit({"train_args.federated_optimizer=FedOpt",
                             "train_args.server_optimizer=yogi", "train_args.server_lr=0.1"});
  expect_resume_bit_for_bit(
      {"train_args.federated_optimizer=FedAvgM", "train_args.server_momentum=0.9"});
}

TEST(ServerResume, ScaffoldsControlVariatesSurviveARestart) {
  // Round 2's corrections c - c_i come from the control variates of rounds 0 and 1; a server
  // restarted after round 0 that lost them would send different ones.
  std::vector<std::string> scaffold = {"train_args.federated_optimizer=SCAFFOLD"};
  auto play_round = [](Federation& f, std::map<int64_t, Message>& req) {
    for (int64_t k : {1, 2, 3}) f.server->handle(f.answer(k, req[k], 1.0f + 0.5f * k, 10 * k));
    for (int64_t k : {1, 2, 3}) req[k] = f.last_request(k).value();
  };
  auto corrections = [](Federation& f, std::map<int64_t, Message>& req) {
    std::map<int64_t, std::string> out;
    for (int64_t k : {1, 2, 3}) {
      EXPECT_EQ(req[k].control.key, cross_silo::control_blob_key(f.args.run_id, k, req[k].round));
      out[k] = f.store.get(req[k].control.key);
    }
    return out;
  };
  Federation plain(scaffold);
  auto req = plain.start_all_online();
  play_round(plain, req);
  play_round(plain, req);
  ASSERT_EQ(req[1].round, 2);
  auto want = corrections(plain, req);
  auto c = safetensors_decode(want[1]);
  EXPECT_GT(c[0].second.abs().max().item<float>(), 0) << "the corrections have moved";

  Federation f(scaffold);
  auto r = f.start_all_online();
  play_round(f, r);
  f.restart_server();
  r = f.start_all_online();
  ASSERT_EQ(r[1].round, 1);
  play_round(f, r);
  ASSERT_EQ(r[1].round, 2);
  EXPECT_TRUE(corrections(f, r) == want);
}

TEST(ServerResume, AHalfWrittenMetricsLineIsCutAndTheCheckpointsLineRestored) {
  Federation f;
  auto req = f.start_all_online();
  for (int64_t k : {1, 2, 3}) f.server->handle(f.answer(k, req[k], 1.0f));
  auto path = f.dir / "log/run_0/metrics.jsonl";
  std::ofstream(path, std::ios::trunc) << "{\"round\": 0, \"sil";  // crashed mid-line
  f.restart_server();
  f.start_all_online();
  auto lines = f.metrics();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["round"], 0);
  EXPECT_EQ(lines[0]["silos"].size(), 3u);
}

TEST(ServerResume, ACorruptOrMissingCheckpointIsNamedAndNothingStartsOver) {
  Federation f;
  auto req = f.start_all_online();
  for (int64_t k : {1, 2, 3}) f.server->handle(f.answer(k, req[k], 1.0f));
  auto out = f.dir / "log/run_0";
  auto model_file = out + "/checkpoint/round_0.safetensors";
  auto good = testutil::read_file(model_file);
  auto expect_refused = [&](const std::string& names) {
    f.restart_server();
    try {
      f.server->start();
      ADD_FAILURE() << "started from a bad checkpoint";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
    }
  };
  auto flipped = good;
  flipped[flipped.size() - 1] ^= 1;
  std::ofstream(model_file, std::ios::binary | std::ios::trunc) << flipped;
  expect_refused(model_file);
  std::ofstream(model_file, std::ios::binary | std::ios::trunc) << good;
  auto json_text = testutil::read_file(out + "/checkpoint.json");
  std::ofstream(out + "/checkpoint.json", std::ios::trunc) << json_text.substr(0, 40);
  expect_refused(out + "/checkpoint.json");
  fs::remove(out + "/checkpoint.json");
  expect_refused("no checkpoint.json");
  EXPECT_EQ(f.metrics().size(), 1u) << "nothing was overwritten";
}

TEST(ServerResume, ASiloSendingAnyJsonInItsMetricsNeitherStopsNorPoisonsTheCheckpoint) {
  Federation f;
  auto req = f.start_all_online();
  auto hostile = f.answer(1, req[1], 1.0f);
  hostile.metrics = {{"train_ms", "fast"},
                     {"silo", 7},
                     {"num_samples", 1e308},
                     {"data_silo_index", nullptr},
                     {"train_loss", nlohmann::json::array({1, 2})},
                     {"train_acc", 1e308},
                     {"rss_mib", nlohmann::json::object({{"a", std::string(20000, 'x')}})},
                     {"cpu_percent", -5}};
  f.server->handle(hostile);
  for (int64_t k : {2, 3}) f.server->handle(f.answer(k, req[k], 1.0f));
  ASSERT_EQ(f.metrics().size(), 1u) << "the round went on";
  auto line = f.metrics()[0].dump();
  int entries = 0;
  auto first_round = f.metrics()[0];
  for (const auto& entry : first_round["silos"]) {
    EXPECT_NE(entry.value("silo", 0), 7) << "a silo cannot rename itself: " << line;
    if (entry.value("silo", 0) != 1) continue;
    ++entries;
    EXPECT_FALSE(entry.contains("train_ms") && entry["train_ms"].is_string()) << line;
    EXPECT_EQ(entry.value("num_samples", 0), 10) << "the server's own count stays";
    EXPECT_FALSE(entry.contains("train_loss")) << "an array is no loss: " << line;
  }
  EXPECT_EQ(entries, 1) << line;
  EXPECT_EQ(line.find("fast"), std::string::npos) << line;
  EXPECT_EQ(line.find("xxxx"), std::string::npos) << line;
  // The checkpoint written with that silo taking part resumes, and the run finishes.
  f.restart_server();
  auto resumed = f.start_all_online();
  ASSERT_EQ(resumed[1].type, MsgType::kSyncModel);
  for (int64_t r = 1; r < 3; ++r) {
    for (int64_t k : {1, 2, 3}) f.server->handle(f.answer(k, resumed[k], 1.0f));
    for (int64_t k : {1, 2, 3}) {
      if (auto m = f.last_request(k)) resumed[k] = *m;
    }
  }
  EXPECT_EQ(resumed[1].type, MsgType::kFinish);
  EXPECT_EQ(f.metrics().size(), 3u);
}

TEST(ServerResume, ADivergedRoundsNullLossesDoNotStopTheResume) {
  Federation f;
  auto req = f.start_all_online();
  for (int64_t k : {1, 2, 3}) f.server->handle(f.answer(k, req[k], 1.0f));
  // A diverged evaluation: NaN figures, which JSON keeps as null.
  auto line = f.metrics().at(0);
  line["test_acc"] = nullptr;
  line["test_loss"] = nullptr;
  std::ofstream(f.dir / "log/run_0/metrics.jsonl", std::ios::trunc) << line.dump() << "\n";
  f.restart_server();
  std::map<int64_t, Message> resumed;
  ASSERT_NO_THROW(resumed = f.start_all_online());
  EXPECT_EQ(resumed[1].round, 1);
}

TEST(ServerResume, AResumeThatChangesTheRunsMeaningIsRefusedNamingEachKey) {
  Federation f;
  auto req = f.start_all_online();
  for (int64_t k : {1, 2, 3}) f.server->handle(f.answer(k, req[k], 1.0f));
  Args first = f.args;
  auto expect_refused = [&](const std::vector<std::string>& names) {
    f.restart_server();
    try {
      f.server->start();
      ADD_FAILURE() << "resumed with a changed meaning";
    } catch (const ConfigError& e) {
      for (const auto& name : names)
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
    f.args = first;
  };
  f.args.federated_optimizer = "FedOpt";
  f.args.enable_sa = true;
  expect_refused({"train_args.federated_optimizer: \"FedAvg\" -> \"FedOpt\"",
                  "secure_aggregation_args.enable_sa: false -> true"});
  f.args.learning_rate *= 2;
  f.args.random_seed += 1;
  expect_refused({"train_args.learning_rate", "common_args.random_seed"});
  f.args.comm_round = 0;  // below the 1 round done
  expect_refused({"train_args.comm_round: 0 is below the 1 rounds already done"});
  // How the run is carried out may change; so may its length.
  f.args.round_timeout_s = 7;
  f.args.resend_interval_s = 3;
  f.args.comm_round = 5;
  f.args.dashboard_linger_s = 1;
  f.restart_server();
  auto resumed = f.start_all_online();
  EXPECT_EQ(resumed[1].type, MsgType::kSyncModel);
  EXPECT_EQ(resumed[1].round, 1);
}

TEST(ServerResume, TheAggregationRulesStateIsSavedAndRestored) {
  Federation f;
  auto first = std::make_unique<CountingAggregator>();
  f.restart_server(std::move(first));
  auto req = f.start_all_online();
  for (int64_t k : {1, 2, 3}) f.server->handle(f.answer(k, req[k], 1.0f));
  EXPECT_TRUE(fs::exists(f.dir / "log/run_0/checkpoint/round_0.aggregator.safetensors"));
  auto second = std::make_unique<CountingAggregator>();
  auto* counting = second.get();
  f.restart_server(std::move(second));
  f.start_all_online();
  EXPECT_EQ(counting->rounds, 2) << "round 0 restored from the checkpoint, then round 1 started";
}

namespace {
Message alive(Federation& f, int64_t k, int64_t round, int64_t bytes, double cpu_s) {
  auto m = f.from(k, MsgType::kClientStatus, round);
  m.status = "ALIVE";
  m.metrics = {{"bytes_moved", bytes}, {"cpu_s", cpu_s}};
  return m;
}
}  // namespace

// A silo that is still moving a large model (its heartbeat's byte count advances) is waited
// for far beyond round_timeout_s, and a quiet spell does not make the server ask it again.
TEST(ServerLiveness, ASiloThatKeepsMakingProgressIsWaitedForAndNotAskedAgain) {
  Federation f({"train_args.min_clients_per_round=2"});
  auto req = f.start_all_online();
  f.server->handle(f.answer(1, req[1], 1.0f));
  f.server->handle(f.answer(2, req[2], 1.0f));
  for (int beat = 1; beat <= 10; ++beat) {  // 400 s: four times round_timeout_s
    f.clock.advance(std::chrono::seconds(40));
    ASSERT_LT(f.clock.now(), f.server->deadline()) << "beat " << beat;
    f.server->handle(alive(f, 3, 0, beat * 1000000, 0.5));
    f.server->on_quiet();
    EXPECT_FALSE(f.last_request(3)) << "a busy silo was asked again at beat " << beat;
  }
  f.server->handle(f.answer(3, req[3], 1.0f));
  auto line = f.metrics().at(0);
  EXPECT_EQ(line["silos"].size(), 3u) << line.dump();
  EXPECT_TRUE(line["dropped"].empty()) << line.dump();
  EXPECT_EQ(f.last_request(1).value().round, 1);
}

// comm_args.round_max_s caps an attempt even for a silo whose figures keep growing (a silo that
// lies about its progress); the attempt then closes by the deadline rules, with its own reason.
TEST(ServerLiveness, ASiloStillProgressingAtRoundMaxSIsDropped) {
  Federation f({"train_args.min_clients_per_round=2", "comm_args.round_max_s=250"});
  auto req = f.start_all_online();
  auto started = f.clock.now();
  EXPECT_EQ(f.server->deadline(), started + seconds_to_duration(100));
  f.server->handle(f.answer(1, req[1], 1.0f));
  f.server->handle(f.answer(2, req[2], 1.0f));
  for (int beat = 1; beat <= 6; ++beat) {  // progress every 40 s, up to 240 s
    f.clock.advance(std::chrono::seconds(40));
    f.server->handle(alive(f, 3, 0, beat * 1000000, 0.5 * beat));
    EXPECT_LE(f.server->deadline(), started + seconds_to_duration(250)) << "beat " << beat;
  }
  EXPECT_EQ(f.server->deadline(), started + seconds_to_duration(250));
  EXPECT_TRUE(f.metrics().empty()) << "the round closed before round_max_s";
  f.pass_deadline();
  auto line = f.metrics().at(0);
  ASSERT_EQ(line["dropped"].size(), 1u) << line.dump();
  EXPECT_EQ(line["dropped"][0]["silo"], 3);
  EXPECT_EQ(line["dropped"][0]["reason"], "no model within round_max_s");
  EXPECT_EQ(f.last_request(1).value().round, 1);
}

// A silo answering every re-ask with a model the checks refuse is not making progress: it is
// dropped round_timeout_s after its last real progress.
TEST(ServerLiveness, RefusedModelsDoNotKeepARoundOpen) {
  Federation f({"train_args.min_clients_per_round=2"});
  auto req = f.start_all_online();
  auto started = f.clock.now();
  f.server->handle(f.answer(1, req[1], 1.0f));
  f.server->handle(f.answer(2, req[2], 1.0f));
  for (int i = 0; i < 2; ++i) {
    f.clock.advance(std::chrono::seconds(40));
    auto bad = f.answer(3, req[3], 1.0f);
    bad.model.sha256 = std::string(64, '0');  // refused after the fetch
    f.server->handle(bad);
    EXPECT_EQ(f.server->deadline(), started + seconds_to_duration(100)) << "answer " << i;
  }
  f.pass_deadline();
  auto line = f.metrics().at(0);
  ASSERT_EQ(line["dropped"].size(), 1u) << line.dump();
  EXPECT_EQ(line["dropped"][0]["reason"], "no model by the deadline");
}

// Without round_max_s, every attempt is still capped: 10 x round_timeout_s.
TEST(ServerLiveness, EveryRoundIsBoundedByDefault) {
  Federation f({"train_args.min_clients_per_round=2"});
  auto req = f.start_all_online();
  auto started = f.clock.now();
  f.server->handle(f.answer(1, req[1], 1.0f));
  f.server->handle(f.answer(2, req[2], 1.0f));
  int64_t bytes = 0;
  for (int beat = 1; beat <= 12; ++beat) {  // figures that grow for ever, every 90 s
    f.clock.advance(std::chrono::seconds(90));
    if (f.clock.now() >= f.server->deadline()) break;
    f.server->handle(alive(f, 3, 0, bytes += 1000, 0.5 * beat));
  }
  EXPECT_EQ(f.server->deadline(), started + seconds_to_duration(1000));
  f.pass_deadline();
  auto line = f.metrics().at(0);
  ASSERT_EQ(line["dropped"].size(), 1u) << line.dump();
  EXPECT_EQ(line["dropped"][0]["reason"], "no model within round_max_s");
}

// Below quorum at round_max_s, the round is asked again with a new cap of its own.
TEST(ServerLiveness, ARetryAfterRoundMaxSGetsANewCap) {
  Federation f({"train_args.min_clients_per_round=3", "comm_args.round_max_s=150"});
  auto req = f.start_all_online();
  auto started = f.clock.now();
  f.server->handle(f.answer(1, req[1], 1.0f));
  f.server->handle(f.answer(2, req[2], 1.0f));
  int64_t bytes = 0;
  for (int s : {50, 50, 40}) {  // progress at 50, 100 and 140 s
    f.clock.advance(std::chrono::seconds(s));
    f.server->handle(alive(f, 3, 0, bytes += 1000, 1.0));
  }
  EXPECT_EQ(f.server->deadline(), started + seconds_to_duration(150));
  f.pass_deadline();  // capped with 2 of the quorum of 3 models: silo 3 is asked again
  auto retried_at = f.clock.now();
  EXPECT_EQ(f.last_request(3).value().round, 0);
  EXPECT_TRUE(f.metrics().empty()) << "the round closed below its quorum";
  for (int beat = 1; beat <= 3; ++beat) {  // progress at 40, 80 and 120 s into the retry
    f.clock.advance(std::chrono::seconds(40));
    f.server->handle(alive(f, 3, 0, bytes += 1000, 1.0));
  }
  EXPECT_EQ(f.server->deadline(), retried_at + seconds_to_duration(150));
  f.server->handle(f.answer(3, req[3], 1.0f));
  auto line = f.metrics().at(0);
  EXPECT_TRUE(line["dropped"].empty()) << line.dump();
}

// A silo whose heartbeats go on but show nothing advancing (a hung process whose network thread
// lives) is dropped round_timeout_s after its last progress; a silent one is asked again after
// resend_interval_s of quiet.
TEST(ServerLiveness, ASiloThatStopsMakingProgressIsDroppedWithinTheTimeout) {
  Federation f({"train_args.min_clients_per_round=2"});
  auto req = f.start_all_online();
  f.server->handle(f.answer(1, req[1], 1.0f));
  f.clock.advance(std::chrono::seconds(10));
  f.server->handle(alive(f, 3, 0, 5000, 1.0));  // progress at t = 10 s
  auto stalled_at = f.clock.now();
  for (int beat = 0; beat < 3; ++beat) {
    f.clock.advance(std::chrono::seconds(20));
    f.server->handle(alive(f, 3, 0, 5000, 1.0));  // the same figures: no progress
  }
  auto forged = alive(f, 3, 0, 0, 0);  // figures that are not numbers are no progress
  forged.metrics = {{"bytes_moved", "a lot"}, {"cpu_s", nullptr}};
  f.server->handle(forged);
  f.server->on_quiet();
  EXPECT_TRUE(f.last_request(2)) << "silo 2 has been silent for longer than resend_interval_s";
  EXPECT_FALSE(f.last_request(3)) << "silo 3 was heard from within resend_interval_s";
  f.server->handle(f.answer(2, req[2], 1.0f));
  EXPECT_EQ(f.server->deadline(), stalled_at + seconds_to_duration(100));
  f.pass_deadline();
  auto line = f.metrics().at(0);
  ASSERT_EQ(line["dropped"].size(), 1u) << line.dump();
  EXPECT_EQ(line["dropped"][0]["silo"], 3);
  EXPECT_EQ(f.last_request(1).value().round, 1);
}
