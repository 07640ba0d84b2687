#pragma once
// Real servers for the integration tests, on free loopback ports, stopped when the fixture ends:
// Debian's mosquitto, and the npm package s3rver (installed by scripts/setup.sh).
#include <memory>
#include <string>

#include "core/subprocess.h"
#include "test_util.h"

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
