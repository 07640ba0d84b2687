// `fedsilo provision` against a real mosquitto: the broker it configures admits only this
// federation's certificates, confines each silo to its own topics, and a whole run works over it.
#include "fedsilo/provision.h"

#include <gtest/gtest.h>
#include <mosquitto.h>
#include <sys/stat.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>

#include "cli_run.h"
#include "comm/mqtt_options.h"
#include "comm/mqtt_transport.h"
#include "core/subprocess.h"
#include "fedsilo/error.h"
#include "test_services.h"

using namespace fedsilo;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Federation {
  Federation(int silos = 2) : port(free_loopback_port()) {
    ProvisionOptions o;
    o.silos = silos;
    o.out_dir = dir / "fed";
    o.broker_host = "127.0.0.1";
    o.broker_port = port;
    o.broker_bind = "127.0.0.1";
    provision(o);
  }
  std::string at(const std::string& rel) const { return dir / ("fed/" + rel); }
  testutil::TempDir dir;
  int port;
};

// A bare MQTT client with a participant's certificate, to try what fedsilo itself never does.
class RawClient {
 public:
  RawClient(const Federation& fed, const std::string& party) {
    mosquitto_lib_init();
    mosq_ = mosquitto_new(nullptr, true, this);
    std::string certs = fed.at(party + "/certs/");
    mosquitto_tls_set(mosq_, (certs + "ca.crt").c_str(), nullptr, (certs + party + ".crt").c_str(),
                      (certs + party + ".key").c_str(), nullptr);
    mosquitto_message_callback_set(mosq_, [](mosquitto*, void* self, const mosquitto_message* m) {
      auto* c = static_cast<RawClient*>(self);
      std::lock_guard<std::mutex> lock(c->mu_);
      c->got_.insert(std::string(m->topic) + "=" +
                     std::string(static_cast<const char*>(m->payload), m->payloadlen));
      c->cv_.notify_all();
    });
    mosquitto_subscribe_callback_set(mosq_, [](mosquitto*, void* self, int, int, const int*) {
      auto* c = static_cast<RawClient*>(self);
      std::lock_guard<std::mutex> lock(c->mu_);
      ++c->subacks_;
      c->cv_.notify_all();
    });
    EXPECT_EQ(mosquitto_connect(mosq_, "127.0.0.1", fed.port, 10), MOSQ_ERR_SUCCESS);
    mosquitto_loop_start(mosq_);
  }
  ~RawClient() {
    mosquitto_disconnect(mosq_);
    mosquitto_loop_stop(mosq_, false);
    mosquitto_destroy(mosq_);
  }
  void subscribe(const std::string& topic) {
    int before = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      before = subacks_;
    }
    mosquitto_subscribe(mosq_, nullptr, topic.c_str(), 1);
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, 10s, [&] { return subacks_ > before; })) << topic;
  }
  void publish(const std::string& topic, const std::string& text) {
    mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(text.size()), text.data(), 1,
                      false);
  }
  // Waits for `topic=text`; true when it came within the deadline.
  bool wait_for(const std::string& topic, const std::string& text) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return got_.count(topic + "=" + text) > 0; });
  }
  std::set<std::string> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }

 private:
  mosquitto* mosq_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> got_;
  int subacks_ = 0;
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_mode & 0777 : 0;
}

}  // namespace

TEST(Provision, WritesEachParticipantItsOwnSecretsAndNeverOverwrites) {
  Federation fed(3);
  for (std::string party : {"server", "silo_1", "silo_2", "silo_3"}) {
    EXPECT_TRUE(fs::exists(fed.at(party + "/mqtt_config.yaml"))) << party;
    EXPECT_EQ(mode_of(fed.at(party + "/certs/" + party + ".key")), 0600u) << party;
    EXPECT_EQ(mode_of(fed.at(party + "/keys/" + party + ".secret")), 0600u) << party;
  }
  // The server verifies every silo; a silo verifies the server and holds no other silo's secret.
  for (int k = 1; k <= 3; ++k) {
    std::string silo = "silo_" + std::to_string(k);
    EXPECT_EQ(testutil::read_file(fed.at("server/keys/" + silo + ".pub")),
              testutil::read_file(fed.at(silo + "/keys/" + silo + ".pub")));
    EXPECT_EQ(testutil::read_file(fed.at(silo + "/keys/server.pub")),
              testutil::read_file(fed.at("server/keys/server.pub")));
    EXPECT_FALSE(fs::exists(fed.at(silo + "/keys/server.secret")));
  }
  EXPECT_FALSE(fs::exists(fed.at("silo_1/keys/silo_2.secret")));
  EXPECT_FALSE(fs::exists(fed.at("silo_1/certs/silo_2.key")));
  EXPECT_EQ(mode_of(fed.at("ca/ca.key")), 0600u);

  // Provisioning again into the same folder would lock every participant out.
  ProvisionOptions again;
  again.out_dir = fed.at("");
  EXPECT_THROW(provision(again), ConfigError);
  ProvisionOptions none;
  none.silos = 0;
  none.out_dir = fed.dir / "other";
  EXPECT_THROW(provision(none), ConfigError);
}

TEST(Provision, ABadBrokerHostIsRefusedBeforeAnythingIsWritten) {
  testutil::TempDir dir;
  std::vector<std::string> bad = {"bad host",
                                  "x\"y",
                                  "a: b",
                                  "-lead.example",
                                  "trail-.example",
                                  "999.1.1.1",
                                  "a..b",
                                  "1:2:3",
                                  std::string(70, 'a') + ".example",
                                  ""};
  for (const auto& host : bad) {
    ProvisionOptions o;
    o.silos = 2;
    o.broker_host = host;
    o.out_dir = dir / "fed";
    try {
      provision(o);
      ADD_FAILURE() << "accepted '" << host << "'";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--broker-host"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(dir / "fed")) << "'" << host << "' left files";
  }
  ProvisionOptions bind;
  bind.broker_bind = "0.0.0.0; rm -rf";
  bind.out_dir = dir / "fed";
  EXPECT_THROW(provision(bind), ConfigError);
  for (std::string host :
       std::vector<std::string>{"broker.example.org", "10.0.0.5", "fd00::5", "localhost"}) {
    ProvisionOptions o;
    o.silos = 1;
    o.broker_host = host;
    o.out_dir = dir / ("ok-" + std::to_string(std::hash<std::string>{}(host)));
    EXPECT_NO_THROW(provision(o)) << host;
  }
}

TEST(Provision, BrokerConfinesEachSiloToItsOwnTopics) {
  Federation fed;
  testutil::Broker broker(fed.port, testutil::read_file(fed.at("broker/mosquitto.conf")));
  RawClient server(fed, "server"), silo1(fed, "silo_1"), silo2(fed, "silo_2");
  server.subscribe("fedsilo/r/c2s/+");
  silo2.subscribe("fedsilo/r/s2c/2");
  silo1.subscribe("fedsilo/r/s2c/1");
  // Silo 1 tries to listen to what the server tells silo 2, and to what silo 2 tells the server.
  silo1.subscribe("fedsilo/r/s2c/2");
  silo1.subscribe("fedsilo/r/c2s/+");
  silo1.subscribe("fedsilo/#");
  server.publish("fedsilo/r/s2c/2", "for-silo-2");
  silo2.publish("fedsilo/r/c2s/2", "from-silo-2");
  ASSERT_TRUE(silo2.wait_for("fedsilo/r/s2c/2", "for-silo-2"));
  ASSERT_TRUE(server.wait_for("fedsilo/r/c2s/2", "from-silo-2"));
  // Silo 1 tries to pose as silo 2, and as the server.
  silo1.publish("fedsilo/r/c2s/2", "forged-by-silo-1");
  silo1.publish("fedsilo/r/s2c/2", "forged-by-silo-1");
  // Messages from one client reach a subscriber in order, so once these markers arrive anything
  // sent before them would have too.
  server.publish("fedsilo/r/s2c/1", "marker");
  silo2.publish("fedsilo/r/c2s/2", "marker");
  silo1.publish("fedsilo/r/c2s/1", "marker");
  ASSERT_TRUE(silo1.wait_for("fedsilo/r/s2c/1", "marker"));
  ASSERT_TRUE(server.wait_for("fedsilo/r/c2s/2", "marker"));
  ASSERT_TRUE(server.wait_for("fedsilo/r/c2s/1", "marker"));
  ASSERT_TRUE(silo2.wait_for("fedsilo/r/s2c/2", "for-silo-2"));
  EXPECT_EQ(silo1.received(), (std::set<std::string>{"fedsilo/r/s2c/1=marker"}));
  EXPECT_EQ(server.received().count("fedsilo/r/c2s/2=forged-by-silo-1"), 0u);
  EXPECT_EQ(silo2.received(), (std::set<std::string>{"fedsilo/r/s2c/2=for-silo-2"}));
}

TEST(Provision, ACertificateFromAnotherFederationFailsAtOnceNamingTls) {
  Federation fed, other;
  testutil::Broker broker(fed.port, testutil::read_file(fed.at("broker/mosquitto.conf")));
  auto o = comm::load_mqtt_options(other.at("silo_1/mqtt_config.yaml"));
  o.port = fed.port;
  comm::MqttTransport t(o, "r", 1);
  // A ConfigError (not the deadline's TimeoutError) means it gave up on the TLS failure.
  try {
    t.connect(120s);
    FAIL() << "a foreign certificate must not connect";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("MQTT_TLS_CA"), std::string::npos) << e.what();
  }
}

TEST(Provision, AWholeRunOverTheProvisionedBrokerMatchesSimulate) {
  Federation fed;
  testutil::Broker broker(fed.port, testutil::read_file(fed.at("broker/mosquitto.conf")));
  testutil::CliRun run(broker);
  run.use_directory_store();
  auto as = [&](const std::string& party) {
    return std::vector<std::string>{
        "--set", "comm_args.mqtt_config_path=" + fed.at(party + "/mqtt_config.yaml"), "--set",
        "security_args.key_dir=" + fed.at(party + "/keys")};
  };
  auto server = run.start("server", 0, as("server"));
  auto silo1 = run.start("client", 1, as("silo_1")), silo2 = run.start("client", 2, as("silo_2"));
  EXPECT_EQ(testutil::finish(*server, run, "server", 0), 0) << run.output("server", 0);
  EXPECT_EQ(testutil::finish(*silo1, run, "client", 1), 0) << run.output("client", 1);
  EXPECT_EQ(testutil::finish(*silo2, run, "client", 2), 0) << run.output("client", 2);
  EXPECT_EQ(run.final_model(), run.simulated_model());
}
