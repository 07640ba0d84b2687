#pragma once
// The time source of the protocol state machines and their driver loop (LevelDB's Env idea):
// production code reads the steady clock, tests substitute a clock they advance by hand, so
// deadlines and resends are tested in simulated time instead of by sleeping.
#include <chrono>

namespace fedsilo {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

// The process-wide steady clock.
Clock& steady_clock();

// `seconds` from config values as a clock duration, saturating instead of overflowing.
Clock::duration seconds_to_duration(double seconds);

}  // namespace fedsilo
