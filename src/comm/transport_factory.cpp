#include "comm/transport_factory.h"

#include <spdlog/spdlog.h>

#include "comm/message_auth.h"
#include "comm/mqtt_transport.h"
#include "fedsilo/error.h"

namespace fedsilo::comm {

std::unique_ptr<Transport> make_transport(const Args& args, int64_t self_id,
                                          const std::optional<Message>& last_will) {
  if (args.backend == "MQTT_S3") {
    if (args.mqtt_config_path.empty())
      throw ConfigError("config comm_args.mqtt_config_path is required for MQTT_S3");
    std::shared_ptr<MessageAuth> auth;
    if (args.message_signing) {
      auth = std::make_shared<MessageAuth>(args.signing_key_dir(), self_id);
    } else {
      SPDLOG_WARN(
          "security_args.message_signing is false: messages are not signed or checked, so anyone "
          "who can publish on the broker can forge or replay them");
    }
    return std::make_unique<MqttTransport>(load_mqtt_options(args.resolve(args.mqtt_config_path)),
                                           args.run_id, self_id, last_will, std::move(auth));
  }
  // INPROC endpoints live in one process: only `fedsilo simulate` can use them.
  throw ConfigError("config comm_args.backend = " + args.backend +
                    ": the server and silo processes need a network transport (MQTT_S3); " +
                    args.backend + " runs only under `fedsilo simulate`");
}

}  // namespace fedsilo::comm
