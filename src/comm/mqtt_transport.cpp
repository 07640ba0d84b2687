#include "comm/mqtt_transport.h"

#include "core/log.h"

namespace fedsilo::comm {

MqttTransport::MqttTransport(const MqttOptions& options, const std::string& run_id, int64_t self_id,
                             const std::optional<Message>& last_will,
                             std::shared_ptr<MessageAuth> auth)
    : GuardedTransport(
          GuardOptions{run_id, self_id, std::move(auth),
                       logging::role_logger(self_id == 0 ? "Server" : "Client", self_id)},
          last_will, [&](WillSource will) {
            return std::make_unique<MqttLink>(options, run_id, self_id, std::move(will));
          }) {}

}  // namespace fedsilo::comm
