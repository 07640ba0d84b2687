#include "comm/inproc_transport.h"

namespace fedsilo::comm {

class InprocEndpoint : public Transport {
 public:
  InprocEndpoint(InprocBus& bus, int64_t id) : bus_(bus), id_(id) {}
  void send(const Message& m) override { bus_.push(m.receiver, encode(m)); }
  std::optional<Message> receive(std::chrono::milliseconds timeout) override {
    auto payload = bus_.pop(id_, timeout);
    if (!payload) return std::nullopt;
    return decode(*payload);
  }

 private:
  InprocBus& bus_;
  int64_t id_;
};

std::unique_ptr<Transport> InprocBus::endpoint(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  queues_[id];
  return std::make_unique<InprocEndpoint>(*this, id);
}

void InprocBus::push(int64_t to, std::string payload) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queues_[to].push_back(std::move(payload));
  }
  cv_.notify_all();
}

std::optional<std::string> InprocBus::pop(int64_t id, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto& q = queues_[id];
  if (!cv_.wait_for(lock, timeout, [&] { return !q.empty(); })) return std::nullopt;
  auto p = std::move(q.front());
  q.pop_front();
  return p;
}

}  // namespace fedsilo::comm
