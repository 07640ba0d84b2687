#pragma once
// Real servers for the integration tests, on free loopback ports, stopped when the fixture ends:
// Debian's mosquitto, and the npm package s3rver (installed by scripts/setup.sh).
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/subprocess.h"
#include "test_util.h"

struct mosquitto;

namespace fedsilo::testutil {

class Broker {
 public:
  // `extra_config` is appended to the broker's mosquitto.conf (e.g. a password file).
  explicit Broker(const std::string& extra_config = "allow_anonymous true\n");
  // A broker from a whole mosquitto.conf (e.g. one `fedsilo provision` wrote) that listens on
  // 127.0.0.1:`port`.
  Broker(int port, const std::string& config_text);
  const std::string& dir() const { return dir_.path(); }
  void stop();
  void start();  // again, on the same port
  int port() const { return port_; }
  // An mqtt_config.yaml for this broker, written into `dir`; returns its path.
  std::string write_config(const std::string& dir) const;

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Subprocess> proc_;
};

// An outsider on a test broker: no keys, anonymous. It publishes whatever bytes it is given, as
// a misbehaving peer would, and with `record` keeps everything published under fedsilo/.
class MqttOutsider {
 public:
  explicit MqttOutsider(int port, bool record = false);
  ~MqttOutsider();
  void publish(const std::string& topic, const std::string& payload);
  std::vector<std::pair<std::string, std::string>> recorded();

 private:
  ::mosquitto* m_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> seen_;
};

class S3Server {
 public:
  S3Server();
  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string write_config(const std::string& dir) const;

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Subprocess> proc_;
};

}  // namespace fedsilo::testutil
