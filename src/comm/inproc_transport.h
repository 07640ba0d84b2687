#pragma once
// Transport inside one process (simulate, tests): a queue per endpoint. Messages pass through
// encode/decode so the in-process path checks exactly what the network path checks.
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "comm/transport.h"

namespace fedsilo::comm {

class InprocBus {
 public:
  std::unique_ptr<Transport> endpoint(int64_t id);

 private:
  friend class InprocEndpoint;
  void push(int64_t to, std::string payload);
  std::optional<std::string> pop(int64_t id, std::chrono::milliseconds timeout);

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, std::deque<std::string>> queues_;
};

}  // namespace fedsilo::comm
