#pragma once
// Liveness that follows progress, not a clock. While a silo works on a round (fetching the
// global model, training, uploading), a thread of the silo runtime, not the training loop,
// sends the server CLIENT_STATUS ALIVE every interval with the round, the bytes the silo has
// moved through the store and the CPU seconds its process has used. The server waits for a silo
// as long as these advance, and resends or gives up only on a silo that has stopped advancing
// (docs/protocol.md "Liveness"). A round shorter than one interval sends none.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "comm/message.h"
#include "comm/transport.h"
#include "fedsilo/args.h"

namespace fedsilo::cross_silo {

class SiloHeartbeat {
 public:
  // `bytes_moved` is read from the heartbeat thread.
  SiloHeartbeat(comm::Transport& transport, std::chrono::milliseconds interval,
                std::function<int64_t()> bytes_moved);
  ~SiloHeartbeat();
  SiloHeartbeat(const SiloHeartbeat&) = delete;
  SiloHeartbeat& operator=(const SiloHeartbeat&) = delete;

  // Until idle(): sends `base` (a CLIENT_STATUS for the round) every interval, each with its own
  // id and the progress figures in metrics.
  void busy(comm::Message base);
  void idle();
  int64_t sent() const;

  // Three heartbeats per comm_args.resend_interval_s (at least 50 ms apart): the server hears a
  // busy silo well before it would ask it again.
  static std::chrono::milliseconds interval_for(const Args& args);
  // The process's CPU time in seconds, all threads.
  static double process_cpu_seconds();

 private:
  void run();

  comm::Transport& transport_;
  std::chrono::milliseconds interval_;
  std::function<int64_t()> bytes_moved_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<comm::Message> base_;
  uint64_t generation_ = 0;  // bumps on every busy(): a new round restarts the interval
  bool stop_ = false;
  int64_t sent_ = 0;
  std::thread thread_;
};

// While alive, the silo is busy with the round; ends the busy spell on every way out.
class BusySpell {
 public:
  BusySpell(SiloHeartbeat& h, comm::Message base) : h_(h) { h_.busy(std::move(base)); }
  ~BusySpell() { h_.idle(); }

 private:
  SiloHeartbeat& h_;
};

}  // namespace fedsilo::cross_silo
