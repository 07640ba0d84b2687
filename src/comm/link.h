#pragma once
// What a network gives the message layer: sealed bytes moved between endpoints. A Link knows
// routes (which endpoint bytes came from, by topic or queue, never by what they say) and
// delivery (order, reconnects, retained bytes, a last will); it knows nothing of messages,
// signatures or replays — GuardedTransport puts a MessageGuard above any Link, so a new network
// is secured the same way without copying that code.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace fedsilo::comm {

struct Parcel {
  int64_t from = -1;        // the route's sender (0 = the server), -1 when the route names none
  std::string bytes;        // as sealed by the sender
  std::string route_error;  // from == -1: what is wrong with the route, for the drop log
};

class Link {
 public:
  virtual ~Link() = default;
  // Bytes for endpoint `to`, delivered in the order sent; `retain`: kept for whoever listens on
  // `to`'s address later (MQTT's retained message), where the network can.
  virtual void send(int64_t to, std::string bytes, bool retain) = 0;
  virtual std::optional<Parcel> receive(std::chrono::milliseconds timeout) = 0;
  // As Transport's.
  virtual void connect(std::chrono::milliseconds) {}
  virtual bool take_reconnected() { return false; }
  virtual bool flush(std::chrono::milliseconds) { return true; }
  virtual void clear_retained(int64_t /*to*/) {}
};

// Fresh bytes of this endpoint's last will, sealed again before each (re)connect.
using WillSource = std::function<std::string()>;

}  // namespace fedsilo::comm
