#include "core/clock.h"

#include <cmath>

namespace fedsilo {
namespace {

class SteadyClock : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace

Clock& steady_clock() {
  static SteadyClock clock;
  return clock;
}

Clock::duration seconds_to_duration(double seconds) {
  using D = Clock::duration;
  // A year is the longest wait any key allows; beyond it a deadline would overflow time_point.
  constexpr double kMax = 366.0 * 24 * 3600;
  if (!(seconds > 0)) return D::zero();
  if (seconds > kMax) seconds = kMax;
  return std::chrono::duration_cast<D>(std::chrono::duration<double>(seconds));
}

}  // namespace fedsilo
