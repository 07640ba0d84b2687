#pragma once
// The MQTT transport: an MqttLink (bytes over the broker) under a MessageGuard.
#include <memory>
#include <optional>

#include "comm/guarded_transport.h"
#include "comm/message_auth.h"
#include "comm/mqtt_link.h"
#include "comm/mqtt_options.h"

namespace fedsilo::comm {

class MqttTransport : public GuardedTransport {
 public:
  // self_id 0 = the server; k = silo k. `last_will`, when given, is what the broker publishes
  // for this endpoint if it vanishes without a clean disconnect (sealed again at every
  // reconnect). With `auth`, every message is signed when sent and admitted only when it
  // verifies as its topic's sender's and is newer than what that sender sent before; without it
  // (an explicit, warned opt-out) anyone who can publish on the broker can forge messages.
  MqttTransport(const MqttOptions& options, const std::string& run_id, int64_t self_id,
                const std::optional<Message>& last_will = std::nullopt,
                std::shared_ptr<MessageAuth> auth = nullptr);

  std::string topic_for(const Message& m) const { return mqtt().topic_for(m.receiver); }
  // The broker's round trip measured at the first connect (median of a few probes on this
  // endpoint's own probe topic), when the broker let the probes through.
  std::optional<double> broker_round_trip_ms() const { return mqtt().broker_round_trip_ms(); }

 private:
  const MqttLink& mqtt() const { return static_cast<const MqttLink&>(link()); }
};

}  // namespace fedsilo::comm
