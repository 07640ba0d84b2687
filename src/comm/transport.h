#pragma once
// How control messages move between the server and the silo masters: the whole contract a
// transport implements. One Transport is one endpoint (the server's, or one silo's): send()
// routes by Message::sender and Message::receiver, receive() returns messages addressed to this
// endpoint. Network transports are a GuardedTransport around a Link (bytes only), so message
// security is the same whatever the network: a new one is one file implementing Link plus one
// line in transport_factory.cpp (docs/architecture.md).
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "comm/message.h"

namespace fedsilo::comm {

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(const Message& m) = 0;
  // The next message for this endpoint, or nullopt when none arrives within `timeout`.
  virtual std::optional<Message> receive(std::chrono::milliseconds timeout) = 0;

  // Blocks until this endpoint can send and receive; throws TimeoutError naming the peer (e.g.
  // the broker) and the last connection error when `timeout` passes first.
  virtual void connect(std::chrono::milliseconds timeout) {}
  // True once after every reconnect (not the first connect): the owner re-sends what the other
  // side may have missed while the connection was down.
  virtual bool take_reconnected() { return false; }
  // Waits until everything sent has been delivered to the network (e.g. acknowledged by the
  // broker); false when `timeout` passes first.
  virtual bool flush(std::chrono::milliseconds timeout) { return true; }
  // Sends `m` and has it kept for whoever listens on its receiver's address later (MQTT's
  // retained message), so a silo restarted after the run ended still hears how it ended.
  // Transports without a broker just send it.
  virtual void send_retained(const Message& m) { send(m); }
  // Forgets what send_retained kept for `receiver`: a run starting afresh under the same id.
  virtual void clear_retained(int64_t /*receiver*/) {}
  // Messages this endpoint dropped (forged, replayed, malformed, ...), by reason.
  virtual std::map<std::string, uint64_t> dropped_messages() const { return {}; }
};

}  // namespace fedsilo::comm
