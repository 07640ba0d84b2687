#pragma once
// A Transport made of a Link (bytes) and a MessageGuard (what may become a message): every
// message is sealed (numbered, signed) before it leaves and admitted (checked whole, then for
// replays) before anyone reads it, whatever network carries it. One guard per endpoint owns the
// endpoint's message numbering.
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "comm/link.h"
#include "comm/message_guard.h"
#include "comm/transport.h"

namespace fedsilo::comm {

class GuardedTransport : public Transport {
 public:
  // `make_link` gets the will's source (null when no `will`), so the Link can publish the will
  // sealed as of each connect. Without `guard` (tests that play a party with raw messages),
  // messages only pass through encode / decode.
  GuardedTransport(std::optional<GuardOptions> guard, const std::optional<Message>& will,
                   const std::function<std::unique_ptr<Link>(WillSource)>& make_link);

  void send(const Message& m) override { send(m, false); }
  void send_retained(const Message& m) override { send(m, true); }
  void clear_retained(int64_t receiver) override { link_->clear_retained(receiver); }
  std::optional<Message> receive(std::chrono::milliseconds timeout) override;
  void connect(std::chrono::milliseconds timeout) override { link_->connect(timeout); }
  bool take_reconnected() override { return link_->take_reconnected(); }
  bool flush(std::chrono::milliseconds timeout) override { return link_->flush(timeout); }
  std::map<std::string, uint64_t> dropped_messages() const override;

 protected:
  Link& link() { return *link_; }
  const Link& link() const { return *link_; }

 private:
  void send(const Message& m, bool retain);

  std::optional<MessageGuard> guard_;
  std::optional<Message> will_;
  // Held from sealing a message to handing it to the link: messages from several threads (a
  // silo's heartbeat) leave in sequence order, which receivers enforce.
  std::mutex send_mu_;
  std::unique_ptr<Link> link_;
};

}  // namespace fedsilo::comm
