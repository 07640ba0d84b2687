#pragma once
// Transport inside one process (simulate, tests): a queue per endpoint. Given a run id, an
// endpoint seals and admits through a MessageGuard (unsigned, in order), so the in-process path
// runs the network path's checks: route, direction, run id, repeats, sequence.
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "comm/message_guard.h"
#include "comm/transport.h"

namespace fedsilo::comm {

class InprocBus {
 public:
  // Without `run_id`, messages pass through encode/decode only (tests that play a party).
  std::unique_ptr<Transport> endpoint(int64_t id, const std::string& run_id = "");

 private:
  friend class InprocLink;
  struct Parcel {
    int64_t from;
    std::string payload;
  };
  void push(int64_t from, int64_t to, std::string payload);
  std::optional<Parcel> pop(int64_t id, std::chrono::milliseconds timeout);

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, std::deque<Parcel>> queues_;
};

}  // namespace fedsilo::comm
