#include "comm/inproc_transport.h"

#include "core/log.h"

namespace fedsilo::comm {

class InprocEndpoint : public Transport {
 public:
  InprocEndpoint(InprocBus& bus, int64_t id, const std::string& run_id) : bus_(bus), id_(id) {
    if (!run_id.empty()) {
      GuardOptions o;
      o.run_id = run_id;
      o.self_id = id;
      o.log = logging::role_logger(id == 0 ? "Server" : "Client", id);
      o.ordered = true;
      guard_.emplace(std::move(o));
    }
  }
  void send(const Message& m) override {
    // Numbered and queued under one lock: a silo's heartbeat thread sends too, and the
    // receiver admits each sender's messages only in order.
    std::lock_guard<std::mutex> lock(send_mu_);
    bus_.push(id_, m.receiver, guard_ ? guard_->seal(m) : encode(m));
  }
  std::optional<Message> receive(std::chrono::milliseconds timeout) override {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto parcel = bus_.pop(id_, std::max(left, std::chrono::milliseconds(0)));
      if (!parcel) return std::nullopt;
      if (!guard_) return decode(parcel->payload);
      if (auto m = guard_->admit(parcel->from, parcel->payload)) return m;
    }
  }
  std::map<std::string, uint64_t> dropped_messages() const override {
    return guard_ ? guard_->dropped() : std::map<std::string, uint64_t>{};
  }

 private:
  InprocBus& bus_;
  int64_t id_;
  std::mutex send_mu_;
  std::optional<MessageGuard> guard_;
};

std::unique_ptr<Transport> InprocBus::endpoint(int64_t id, const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  queues_[id];
  return std::make_unique<InprocEndpoint>(*this, id, run_id);
}

void InprocBus::push(int64_t from, int64_t to, std::string payload) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queues_[to].push_back({from, std::move(payload)});
  }
  cv_.notify_all();
}

std::optional<InprocBus::Parcel> InprocBus::pop(int64_t id, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto& q = queues_[id];
  if (!cv_.wait_for(lock, timeout, [&] { return !q.empty(); })) return std::nullopt;
  auto p = std::move(q.front());
  q.pop_front();
  return p;
}

}  // namespace fedsilo::comm
