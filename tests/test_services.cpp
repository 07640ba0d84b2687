#include "test_services.h"
#include "build_paths.h"

#include <gtest/gtest.h>
#include <mosquitto.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fedsilo::testutil {
using namespace std::chrono_literals;

Broker::Broker(const std::string& extra_config) : port_(free_loopback_port()) {
  std::ofstream(dir_ / "mosquitto.conf") << "listener " << port_ << " 127.0.0.1\n"
                                         << extra_config << "set_tcp_nodelay true\n"
                                         << "persistence false\n";
  start();
}

Broker::Broker(int port, const std::string& config_text) : port_(port) {
  // As root, mosquitto switches to user mosquitto before it reads keys and ACLs that a test
  // wrote as root with mode 0600; keep it root here.
  std::ofstream(dir_ / "mosquitto.conf")
      << config_text << (::geteuid() == 0 ? "user root\n" : "") << "persistence false\n";
  start();
}

void Broker::start() {
  Subprocess::Options o;
  o.output_file = dir_ / "mosquitto.log";
  proc_ = std::make_unique<Subprocess>(
      std::vector<std::string>{"mosquitto", "-c", dir_ / "mosquitto.conf"}, o);
  if (!wait_for_port("127.0.0.1", port_, 10s)) {
    throw std::runtime_error("mosquitto did not listen on 127.0.0.1:" + std::to_string(port_) +
                             ": " + read_file(dir_ / "mosquitto.log"));
  }
}

void Broker::stop() { proc_.reset(); }

std::string Broker::write_config(const std::string& dir) const {
  std::string path = dir + "/mqtt_config.yaml";
  std::ofstream(path) << "BROKER_HOST: 127.0.0.1\nBROKER_PORT: " << port_
                      << "\nMQTT_KEEPALIVE: 10\n";
  return path;
}

S3Server::S3Server() : port_(free_loopback_port()) {
  std::string bin = std::string(fedsilo::build_paths::source_dir()) + "/node_modules/.bin/s3rver";
  if (!std::filesystem::exists(bin)) {
    throw std::runtime_error(bin + " is missing: run scripts/setup.sh (npm test tools)");
  }
  Subprocess::Options o;
  o.output_file = dir_ / "s3rver.log";
  std::filesystem::create_directories(dir_ / "data");
  proc_ = std::make_unique<Subprocess>(
      std::vector<std::string>{bin, "-d", dir_ / "data", "-a", "127.0.0.1", "-p",
                               std::to_string(port_), "-s", "--configure-bucket", "fedsilo"},
      o);
  if (!wait_for_port("127.0.0.1", port_, 20s)) {
    throw std::runtime_error("s3rver did not listen on port " + std::to_string(port_) + ": " +
                             read_file(dir_ / "s3rver.log"));
  }
}

std::string S3Server::write_config(const std::string& dir) const {
  std::string path = dir + "/s3_config.yaml";
  std::ofstream(path)
      << "BUCKET_NAME: fedsilo\nCN_S3_AKI: S3RVER\nCN_S3_SAK: S3RVER\nCN_REGION_NAME: us-east-1\n"
      << "S3_ENDPOINT: " << endpoint() << "\n";
  return path;
}

MqttOutsider::MqttOutsider(int port, bool record) {
  mosquitto_lib_init();
  m_ = mosquitto_new(nullptr, true, this);
  mosquitto_message_callback_set(m_, [](mosquitto*, void* self, const mosquitto_message* msg) {
    auto* t = static_cast<MqttOutsider*>(self);
    std::lock_guard<std::mutex> lock(t->mu_);
    t->seen_.emplace_back(msg->topic, std::string(static_cast<const char*>(msg->payload),
                                                  static_cast<size_t>(msg->payloadlen)));
  });
  EXPECT_EQ(mosquitto_connect(m_, "127.0.0.1", port, 10), MOSQ_ERR_SUCCESS);
  if (record) EXPECT_EQ(mosquitto_subscribe(m_, nullptr, "fedsilo/#", 1), MOSQ_ERR_SUCCESS);
  mosquitto_loop_start(m_);
}

MqttOutsider::~MqttOutsider() {
  mosquitto_disconnect(m_);
  mosquitto_loop_stop(m_, false);
  mosquitto_destroy(m_);
}

void MqttOutsider::publish(const std::string& topic, const std::string& payload) {
  ASSERT_EQ(mosquitto_publish(m_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                              payload.data(), 1, false),
            MOSQ_ERR_SUCCESS);
}

std::vector<std::pair<std::string, std::string>> MqttOutsider::recorded() {
  std::lock_guard<std::mutex> lock(mu_);
  return seen_;
}

}  // namespace fedsilo::testutil
