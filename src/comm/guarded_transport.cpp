#include "comm/guarded_transport.h"

namespace fedsilo::comm {

GuardedTransport::GuardedTransport(
    std::optional<GuardOptions> guard, const std::optional<Message>& will,
    const std::function<std::unique_ptr<Link>(WillSource)>& make_link)
    : will_(will) {
  if (guard) guard_.emplace(std::move(*guard));
  WillSource source;
  if (will_) source = [this] { return guard_ ? guard_->seal(*will_) : encode(*will_); };
  link_ = make_link(std::move(source));
}

void GuardedTransport::send(const Message& m, bool retain) {
  std::lock_guard<std::mutex> lock(send_mu_);
  link_->send(m.receiver, guard_ ? guard_->seal(m) : encode(m), retain);
}

std::optional<Message> GuardedTransport::receive(std::chrono::milliseconds timeout) {
  if (guard_) guard_->summarise_drops();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto parcel = link_->receive(std::max(left, std::chrono::milliseconds(0)));
    if (!parcel) return std::nullopt;
    if (!guard_) return decode(parcel->bytes);
    if (parcel->from < 0) {
      guard_->drop(-1, DropReason::kRoute, parcel->route_error);
      continue;
    }
    if (auto m = guard_->admit(parcel->from, parcel->bytes)) return m;
  }
}

std::map<std::string, uint64_t> GuardedTransport::dropped_messages() const {
  return guard_ ? guard_->dropped() : std::map<std::string, uint64_t>{};
}

}  // namespace fedsilo::comm
