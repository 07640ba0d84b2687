#include "comm/mqtt_options.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>

#include "core/key_file.h"
#include "fedsilo/error.h"

namespace fedsilo::comm {

MqttOptions load_mqtt_options(const std::string& path) {
  config::KeyFile y(path, {"BROKER_HOST", "BROKER_PORT", "MQTT_USER", "MQTT_PWD", "MQTT_KEEPALIVE",
                           "MQTT_TLS_CA", "MQTT_TLS_CERT", "MQTT_TLS_KEY", "MQTT_TLS_INSECURE"});
  MqttOptions o;
  o.host = y.text("BROKER_HOST", o.host);
  o.port = static_cast<int>(y.integer("BROKER_PORT", o.port, 1, 65535));
  o.user = y.text("MQTT_USER", "");
  o.password = y.text("MQTT_PWD", "");
  o.keepalive_s = static_cast<int>(y.integer("MQTT_KEEPALIVE", o.keepalive_s, 5, 65535));
  o.tls_ca_file = y.path("MQTT_TLS_CA");
  o.tls_cert_file = y.path("MQTT_TLS_CERT");
  o.tls_key_file = y.path("MQTT_TLS_KEY");
  o.tls_insecure = y.boolean("MQTT_TLS_INSECURE", false);
  if (const char* u = std::getenv("FEDSILO_MQTT_USER")) o.user = u;
  if (const char* p = std::getenv("FEDSILO_MQTT_PASSWORD")) o.password = p;
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    throw ConfigError(path + ": MQTT_TLS_CERT and MQTT_TLS_KEY must be given together");
  }
  return o;
}

}  // namespace fedsilo::comm
