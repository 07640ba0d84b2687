// What a receiver admits: replays of any run, session or will change nothing it remembers.
#include "comm/message_guard.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fedsilo/error.h"
#include "test_util.h"

using namespace fedsilo;
using namespace fedsilo::comm;

namespace {

Message from_silo(int64_t silo, const std::string& id, const std::string& status = "ONLINE",
                  const std::string& run = "B") {
  Message m;
  m.type = MsgType::kClientStatus;
  m.id = id;
  m.run_id = run;
  m.sender = silo;
  m.receiver = 0;
  m.status = status;
  return m;
}

// One party of a run: its key (shared folder, as on one machine) and its guard.
struct Party {
  Party(const std::string& keys, const std::string& run, int64_t id,
        std::shared_ptr<spdlog::logger> log = nullptr)
      : guard(GuardOptions{run, id, std::make_shared<MessageAuth>(keys, id), std::move(log)}) {}
  MessageGuard guard;
};

}  // namespace

TEST(MessageGuard, AMessageOfAnotherRunChangesNothingForTheSendersLaterMessages) {
  testutil::TempDir keys;
  Party server_b(keys.path(), "B", 0);
  Party silo_b(keys.path(), "B", 1);
  Party silo_a(keys.path(), "A", 1);  // the same key, in a later-started concurrent run
  auto real = silo_b.guard.seal(from_silo(1, "1-b1"));
  auto foreign = silo_a.guard.seal(from_silo(1, "1-a1", "ONLINE", "A"));
  ASSERT_GT(silo_a.guard.session(), silo_b.guard.session()) << "sessions grow per start";
  EXPECT_FALSE(server_b.guard.admit(1, foreign)) << "run A's message is not run B's";
  auto got = server_b.guard.admit(1, real);
  ASSERT_TRUE(got) << "run A's higher session did not raise silo 1's mark in run B";
  EXPECT_EQ(got->id, "1-b1");
  EXPECT_EQ(server_b.guard.dropped().at("other_run"), 1u);
}

TEST(MessageGuard, MessagesAreCheckedWholeBeforeTheirSequenceIsTaken) {
  testutil::TempDir keys;
  Party server(keys.path(), "B", 0);
  Party silo1(keys.path(), "B", 1);
  // Sealed first, admitted last: it is below all the others in silo 1's sequence.
  auto honest = silo1.guard.seal(from_silo(1, "1-1"));
  // Each of these is validly signed by silo 1 but fails a check; none may move silo 1's mark.
  auto to_silo2 = from_silo(1, "1-x");
  to_silo2.receiver = 2;
  auto wrong_direction = from_silo(1, "1-y");
  wrong_direction.type = MsgType::kFinish;
  auto bad_fields = from_silo(1, "1-z");
  bad_fields.type = MsgType::kSendModel;  // a SEND_MODEL without a model
  for (const auto& m : {to_silo2, wrong_direction, bad_fields}) {
    auto wire = silo1.guard.seal(m);
    EXPECT_FALSE(server.guard.admit(1, wire)) << m.id;
  }
  auto later_on_another_route = silo1.guard.seal(from_silo(1, "1-w"));
  EXPECT_FALSE(server.guard.admit(2, later_on_another_route)) << "silo 1's bytes on silo 2's topic";
  EXPECT_TRUE(server.guard.admit(1, honest)) << "a refused message moved silo 1's mark";
}

TEST(MessageGuard, ARestartedPartyIsAcceptedAtOnceAndItsOldSessionIsNot) {
  testutil::TempDir keys;
  Party server(keys.path(), "B", 0);
  std::string old_online, old_will, resealed_will;
  {
    Party before(keys.path(), "B", 1);
    old_will = before.guard.seal(from_silo(1, "1-will", "OFFLINE"));
    // Sealed again at a reconnect; a tap saw it, the server never got it.
    resealed_will = before.guard.seal(from_silo(1, "1-will-b", "OFFLINE"));
    old_online = before.guard.seal(from_silo(1, "1-on"));
    ASSERT_TRUE(server.guard.admit(1, old_online));
    ASSERT_TRUE(server.guard.admit(1, old_will)) << "a will counts for its live session";
    EXPECT_FALSE(server.guard.admit(1, old_will)) << "once";
  }
  Party after(keys.path(), "B", 1);
  auto will = after.guard.seal(from_silo(1, "1-will2", "OFFLINE"));
  ASSERT_TRUE(server.guard.admit(1, after.guard.seal(from_silo(1, "1-on2"))))
      << "the restarted silo's first message is accepted";
  EXPECT_FALSE(server.guard.admit(1, old_online)) << "old session replayed";
  // The old session's wills, replayed: dropped.
  EXPECT_FALSE(server.guard.admit(1, old_will));
  EXPECT_FALSE(server.guard.admit(1, resealed_will));
  EXPECT_EQ(server.guard.dropped().at("old_will"), 1u);
  EXPECT_TRUE(server.guard.admit(1, will)) << "the live session's will";
  EXPECT_TRUE(server.guard.admit(1, after.guard.seal(from_silo(1, "1-alive", "ALIVE"))))
      << "the will changed nothing for the silo's later messages";
}

TEST(MessageGuard, SessionsComeFromACounterNotTheClock) {
  testutil::TempDir keys;
  MessageAuth auth(keys.path(), 3);
  int64_t first = auth.begin_session();
  EXPECT_EQ(auth.begin_session(), first + 1);
  std::ofstream(keys.path() + "/silo_3.session") << "41\n";  // a counter from long ago
  EXPECT_EQ(auth.begin_session(), 42);
  EXPECT_EQ(auth.begin_session(), 43);
  std::ofstream(keys.path() + "/silo_3.session") << "forty-two\n";
  try {
    auth.begin_session();
    FAIL() << "a malformed counter must stop the party";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("silo_3.session"), std::string::npos) << e.what();
  }
}

TEST(MessageGuard, AKeyLostAfterThePartyRanIsRefusedNotReplaced) {
  testutil::TempDir keys;
  MessageAuth(keys.path(), 2).begin_session();  // silo 2 ran from this folder
  std::filesystem::remove(keys.path() + "/silo_2.secret");
  try {
    MessageAuth again(keys.path(), 2);
    FAIL() << "a new identity was made silently";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("silo_2.secret is missing"), std::string::npos)
        << e.what();
  }
  MessageAuth fresh(keys.path(), 3);  // a first start still makes its key
  EXPECT_TRUE(std::filesystem::exists(keys.path() + "/silo_3.secret"));
}

TEST(MessageGuard, AFloodOfJunkWritesABoundedNumberOfLogLines) {
  testutil::TempDir keys;
  std::ostringstream out;
  auto log = std::make_shared<spdlog::logger>(
      "guard-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  GuardOptions o{"B", 0, std::make_shared<MessageAuth>(keys.path(), 0), log};
  o.summary_interval = std::chrono::seconds(0);  // a summary at every call
  MessageGuard server(o);
  Party silo1(keys.path(), "B", 1);
  auto replayed = silo1.guard.seal(from_silo(1, "1-1"));
  ASSERT_TRUE(server.admit(1, replayed));
  for (int i = 0; i < 20000; ++i) {
    server.admit(1, "junk " + std::to_string(i));   // unsigned
    server.admit(1 + (i % 1000) * 1000, replayed);  // many topics
    server.admit(1, replayed);                      // a repeat
    if (i % 5000 == 0) server.summarise_drops();
  }
  server.summarise_drops();
  auto text = out.str();
  auto lines = std::count(text.begin(), text.end(), '\n');
  // A few lines per (sender, reason) for at most 256 pairs, then a line per reason and summary.
  EXPECT_LT(lines, 3 * 256 + 3 * 6) << "per (sender, reason) a few lines, then summaries";
  EXPECT_NE(text.find("more messages (signature) in the last 0 s: silo 1 x"), std::string::npos)
      << text.substr(text.size() - 2000);
  EXPECT_EQ(server.dropped().at("signature"), 20000u + 19980u);
}

TEST(MessageGuard, WhatASenderWroteIsQuotedOnOneBoundedLine) {
  testutil::TempDir keys;
  std::ostringstream out;
  auto log = std::make_shared<spdlog::logger>(
      "guard-test2", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  MessageGuard server(GuardOptions{"B", 0, std::make_shared<MessageAuth>(keys.path(), 0), log});
  Party silo1(keys.path(), "A\n[INFO] forged line", 1);
  auto m = from_silo(1, std::string(5000, 'x'), "ONLINE", "A\n[INFO] forged line");
  EXPECT_FALSE(server.admit(1, silo1.guard.seal(m)));
  auto text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_LT(text.size(), 600u);
}
