#pragma once
// Helpers for tests that play one side of the round protocol: a clock the test advances by
// hand (deadlines in simulated time) and messages as a silo would send them.
#include <string>

#include "comm/message.h"
#include "core/clock.h"

namespace fedsilo::testutil {

class ManualClock : public Clock {
 public:
  time_point now() const override { return now_; }
  void advance(duration d) { now_ += d; }

 private:
  time_point now_{};
};

// A message from silo `silo` to the server, with a unique id from `seq`.
inline comm::Message silo_message(const std::string& run_id, int64_t silo, comm::MsgType type,
                                  int64_t round, int& seq) {
  comm::Message m;
  m.type = type;
  m.id = std::to_string(silo) + "-" + std::to_string(++seq);
  m.run_id = run_id;
  m.sender = silo;
  m.round = round;
  return m;
}

}  // namespace fedsilo::testutil
