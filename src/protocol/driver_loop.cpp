#include "protocol/driver_loop.h"

#include "core/log.h"
#include "core/signals.h"

namespace fedsilo::cross_silo {

ExitCode drive(DrivenMachine& machine, comm::Transport& transport, Clock& clock,
               const DriverOptions& options, spdlog::logger& log) {
  auto last_progress = clock.now();
  while (!machine.done()) {
    if (int sig = pending_signal()) return machine.on_signal(sig);
    if (transport.take_reconnected()) machine.on_reconnect();
    auto now = clock.now();
    if (now >= machine.deadline()) {
      machine.on_deadline();
      continue;
    }
    auto wait = std::min<Clock::duration>(machine.deadline() - now, options.poll);
    if (auto m = transport.receive(std::chrono::ceil<std::chrono::milliseconds>(wait))) {
      machine.handle(*m);
      last_progress = clock.now();
    } else if (auto t = clock.now();
               t < machine.deadline() && t - last_progress >= options.quiet_interval) {
      SPDLOG_LOGGER_INFO(&log, "waiting for {} ({:.0f} s left)", machine.waiting_for(),
                         std::chrono::duration<double>(machine.deadline() - clock.now()).count());
      machine.on_quiet();
      last_progress = clock.now();
    }
  }
  return machine.exit_code();
}

}  // namespace fedsilo::cross_silo
