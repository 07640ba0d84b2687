#include "comm/mqtt_transport.h"

#include <gtest/gtest.h>
#include <mosquitto.h>

#include <future>

#include "fedsilo/error.h"
#include "test_services.h"

using namespace fedsilo;
using namespace fedsilo::comm;
using namespace std::chrono_literals;

namespace {

MqttOptions options_for(const testutil::Broker& b) {
  MqttOptions o;
  o.port = b.port();
  o.keepalive_s = 10;
  return o;
}

Message status(int64_t silo, const std::string& id) {
  Message m;
  m.type = MsgType::kClientStatus;
  m.id = id;
  m.run_id = "t";
  m.sender = silo;
  m.receiver = 0;
  m.status = "ONLINE";
  return m;
}

Message check(int64_t silo, const std::string& id) {
  Message m;
  m.type = MsgType::kCheckClientStatus;
  m.id = id;
  m.run_id = "t";
  m.sender = 0;
  m.receiver = silo;
  return m;
}

template <typename F>
bool eventually(F&& condition, std::chrono::milliseconds timeout = 15s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace

TEST(MqttTransport, RoundTripAndPerSiloTopics) {
  testutil::Broker broker;
  MqttTransport server(options_for(broker), "t", 0), silo1(options_for(broker), "t", 1),
      silo2(options_for(broker), "t", 2);
  for (auto* t : {&server, &silo1, &silo2}) t->connect(10s);
  EXPECT_EQ(silo1.topic_for(status(1, "x")), "fedsilo/t/c2s/1");
  EXPECT_EQ(server.topic_for(check(2, "x")), "fedsilo/t/s2c/2");

  silo1.send(status(1, "1-1"));
  auto got = server.receive(10s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, "1-1");
  EXPECT_EQ(got->status, "ONLINE");

  server.send(check(1, "0-1"));
  auto at1 = silo1.receive(10s);
  ASSERT_TRUE(at1);
  EXPECT_EQ(at1->id, "0-1");
  EXPECT_FALSE(silo2.receive(300ms)) << "silo 2 must not see silo 1's topic";
  EXPECT_TRUE(server.flush(5s));
}

TEST(MqttTransport, DropsRepeatsMalformedOversizedAndImpersonation) {
  testutil::Broker broker;
  MqttTransport server(options_for(broker), "t", 0);
  server.connect(10s);
  testutil::MqttOutsider raw(broker.port());
  auto good = encode(status(1, "1-7"));
  raw.publish("fedsilo/t/c2s/1", good);
  raw.publish("fedsilo/t/c2s/1", good);  // QoS 1 may deliver twice
  raw.publish("fedsilo/t/c2s/1", "{not json");
  raw.publish("fedsilo/t/c2s/1", std::string(kMaxMessageBytes + 10, 'x'));
  raw.publish("fedsilo/t/c2s/1", encode(status(2, "2-1")));  // silo 2 posing as silo 1
  raw.publish("fedsilo/t/c2s/1", encode(status(1, "1-8")));
  auto first = server.receive(10s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->id, "1-7");
  auto second = server.receive(10s);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, "1-8")
      << "the repeat, the malformed, the oversized and the impostor are dropped";
  EXPECT_FALSE(server.receive(200ms));
}

TEST(MqttTransport, ReconnectsAndDeliversWhatWasSentWhileTheBrokerWasDown) {
  testutil::Broker broker;
  MqttTransport server(options_for(broker), "t", 0), silo(options_for(broker), "t", 1);
  server.connect(10s);
  silo.connect(10s);
  broker.stop();
  silo.send(status(1, "1-during-outage"));
  broker.start();
  ASSERT_TRUE(eventually([&] { return server.take_reconnected(); })) << "server did not reconnect";
  ASSERT_TRUE(eventually([&] { return silo.take_reconnected(); })) << "silo did not reconnect";
  silo.send(status(1, "1-after"));
  std::set<std::string> ids;
  while (auto m = server.receive(3s)) ids.insert(m->id);
  EXPECT_TRUE(ids.count("1-after"));
  // The outage message may have been published before the server resubscribed, in which case
  // the broker had no one to give it to; the protocol's resend covers that (ServerManager).
  EXPECT_TRUE(silo.flush(5s)) << "every message handed to the broker after reconnecting";
}

TEST(MqttTransport, UnreachableBrokerIsATimeoutNamingIt) {
  MqttOptions o;
  o.port = free_loopback_port();
  MqttTransport t(o, "t", 1);
  try {
    t.connect(1500ms);
    FAIL();
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(o.port)), std::string::npos)
        << e.what();
  }
}

// With TLS, libmosquitto's reconnect loop took about a minute to notice a disconnect: the
// process said it gave up, then lingered. An endpoint that never connected stops at once.
TEST(MqttTransport, AnEndpointThatNeverConnectedOverTlsStopsAtOnce) {
  MqttOptions o;
  o.port = free_loopback_port();
  o.tls_ca_file = "/etc/ssl/certs/ca-certificates.crt";
  auto t = std::make_unique<MqttTransport>(o, "t", 1);
  EXPECT_THROW(t->connect(1500ms), TimeoutError);
  auto gone = std::async(std::launch::async, [&] { t.reset(); });
  EXPECT_EQ(gone.wait_for(20s), std::future_status::ready) << "the endpoint lingers";
}

TEST(MqttTransport, SignedMessagesDropForgeriesReplaysAndNonCanonicalTopics) {
  testutil::Broker broker;
  testutil::TempDir keys, other_keys;
  auto server_auth = std::make_shared<MessageAuth>(keys.path(), 0);
  auto silo_auth = std::make_shared<MessageAuth>(keys.path(), 1);
  MqttTransport server(options_for(broker), "t", 0, std::nullopt, server_auth);
  MqttTransport silo(options_for(broker), "t", 1, std::nullopt, silo_auth);
  server.connect(10s);
  silo.connect(10s);
  silo.send(status(1, "1-1"));
  auto got = server.receive(10s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, "1-1");
  EXPECT_GT(got->seq, 0);

  testutil::MqttOutsider raw(broker.port());
  raw.publish("fedsilo/t/c2s/1", encode(status(1, "1-2")));  // unsigned
  MessageAuth mallory(other_keys.path(), 1);                 // someone else's "silo 1" key
  raw.publish("fedsilo/t/c2s/1", mallory.seal(encode(status(1, "1-3"))));
  auto replay = status(1, "1-4");  // signed by silo 1 long ago: an old sequence number
  replay.seq = got->seq - 1;
  raw.publish("fedsilo/t/c2s/1", silo_auth->seal(encode(replay)));
  auto padded = status(1, "1-5");
  padded.seq = got->seq + 1000;
  raw.publish("fedsilo/t/c2s/01", silo_auth->seal(encode(padded)));  // "01" is not silo 1
  // And the server's direction: a forged FINISH(ABORTED) to silo 1.
  Message finish = check(1, "0-9");
  finish.type = MsgType::kFinish;
  finish.status = "ABORTED";
  raw.publish("fedsilo/t/s2c/1", encode(finish));
  raw.publish("fedsilo/t/s2c/1", mallory.seal(encode(finish)));

  silo.send(status(1, "1-6"));
  server.send(check(1, "0-1"));
  auto next = server.receive(10s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->id, "1-6") << "unsigned, foreign-key, replayed and padded-topic messages dropped";
  auto at_silo = silo.receive(10s);
  ASSERT_TRUE(at_silo);
  EXPECT_EQ(at_silo->id, "0-1") << "forged FINISH messages dropped";
  EXPECT_FALSE(server.receive(200ms));
  EXPECT_FALSE(silo.receive(200ms));
}

TEST(MqttTransport, RefusedCredentialsAreReportedAtOnceNamingTheFix) {
  testutil::TempDir dir;
  std::string passwd = dir / "passwd";
  ASSERT_EQ(std::system(("mosquitto_passwd -b -c " + passwd + " silo1 right >/dev/null").c_str()),
            0);
  // `user root`: a broker started as root would read the password file as `mosquitto`, which
  // cannot enter the test's private folder.
  testutil::Broker broker("allow_anonymous false\npassword_file " + passwd + "\nuser root\n");
  auto o = options_for(broker);
  o.user = "silo1";
  o.password = "wrong";
  MqttTransport t(o, "t", 1);
  // A ConfigError (not the TimeoutError of the deadline) means it gave up on the refusal.
  try {
    t.connect(120s);
    FAIL() << "a refused password must not connect";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("MQTT_PWD"), std::string::npos) << e.what();
  }
}

TEST(MqttTransport, ARetainedMessageReachesALateSubscriberUntilCleared) {
  testutil::Broker broker;
  MqttTransport server(options_for(broker), "t", 0);
  server.connect(10s);
  server.send_retained(check(1, "0-final"));
  ASSERT_TRUE(server.flush(5s));
  {
    MqttTransport late(options_for(broker), "t", 1);  // started after the message was sent
    late.connect(10s);
    auto got = late.receive(10s);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->id, "0-final");
  }
  server.clear_retained(1);
  ASSERT_TRUE(server.flush(5s));
  MqttTransport later(options_for(broker), "t", 1);
  later.connect(10s);
  // Silence is the expected outcome here: nothing may arrive within a generous window.
  EXPECT_FALSE(later.receive(500ms)) << "the cleared message must not be delivered";
}

TEST(MqttTransport, MeasuresTheBrokerRoundTripWhenItConnects) {
  testutil::Broker broker;
  MqttTransport silo(options_for(broker), "t", 1);
  silo.connect(10s);
  ASSERT_TRUE(silo.broker_round_trip_ms()) << "the probes on fedsilo/t/probe/1 came back";
  EXPECT_GT(*silo.broker_round_trip_ms(), 0.0);
  // The probes are not messages: nothing reaches the endpoint's inbox.
  EXPECT_FALSE(silo.receive(100ms));
}
