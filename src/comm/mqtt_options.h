#pragma once
// mqtt_config.yaml: FedML's keys BROKER_HOST, BROKER_PORT, MQTT_USER, MQTT_PWD, MQTT_KEEPALIVE,
// plus MQTT_TLS_CA, MQTT_TLS_CERT, MQTT_TLS_KEY, MQTT_TLS_INSECURE. Secrets may come from the
// environment instead: FEDSILO_MQTT_USER, FEDSILO_MQTT_PASSWORD override the file.
#include <string>

namespace fedsilo::comm {

struct MqttOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string user;
  std::string password;
  int keepalive_s = 60;
  std::string tls_ca_file;    // TLS is on when set
  std::string tls_cert_file;  // client certificate (optional, with tls_key_file)
  std::string tls_key_file;
  bool tls_insecure = false;  // skip host name verification (self-signed test brokers only)
  // A broker round trip above this at connect logs a warning naming the usual cause (a broker
  // without set_tcp_nodelay) and the fix. Not a config key: tests set it.
  double latency_warn_ms = 5;
};

// Relative certificate paths follow the one path rule (docs/config.md): as given when they
// exist from the working directory, otherwise next to the mqtt config file.
// Throws ConfigError naming the file and key.
MqttOptions load_mqtt_options(const std::string& path);

}  // namespace fedsilo::comm
