#include "comm/inproc_transport.h"

#include "comm/guarded_transport.h"
#include "core/log.h"

namespace fedsilo::comm {

// One endpoint's queue on the bus: the route is the queue's sender.
class InprocLink : public Link {
 public:
  InprocLink(InprocBus& bus, int64_t id) : bus_(bus), id_(id) {}
  void send(int64_t to, std::string bytes, bool) override { bus_.push(id_, to, std::move(bytes)); }
  std::optional<Parcel> receive(std::chrono::milliseconds timeout) override {
    auto p = bus_.pop(id_, timeout);
    if (!p) return std::nullopt;
    return Parcel{p->from, std::move(p->payload), ""};
  }

 private:
  InprocBus& bus_;
  int64_t id_;
};

std::unique_ptr<Transport> InprocBus::endpoint(int64_t id, const std::string& run_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queues_[id];
  }
  std::optional<GuardOptions> guard;
  if (!run_id.empty()) {
    GuardOptions o;
    o.run_id = run_id;
    o.self_id = id;
    o.log = logging::role_logger(id == 0 ? "Server" : "Client", id);
    o.ordered = true;
    guard = std::move(o);
  }
  return std::make_unique<GuardedTransport>(std::move(guard), std::nullopt, [&](WillSource) {
    return std::make_unique<InprocLink>(*this, id);
  });
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
