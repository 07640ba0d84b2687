#pragma once
// How control messages move between the server and the silo masters. One Transport is one
// endpoint (the server's, or one silo's): send() routes by Message::receiver, receive() returns
// messages addressed to this endpoint.
#include <chrono>
#include <optional>

#include "comm/message.h"

namespace fedsilo::comm {

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(const Message& m) = 0;
  // The next message for this endpoint, or nullopt when none arrives within `timeout`.
  virtual std::optional<Message> receive(std::chrono::milliseconds timeout) = 0;
};

}  // namespace fedsilo::comm
