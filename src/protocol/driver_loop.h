#pragma once
// The one loop that drives a protocol state machine (the server's or a silo master's) over a
// Transport: feeds it messages, tells it about reconnects, quiet spells, deadlines and signals,
// and returns the process exit code. The machine never blocks and never reads a clock except
// the Clock it was given, so the whole loop runs in simulated time under test.
#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "comm/transport.h"
#include "core/clock.h"
#include "fedsilo/exit_code.h"

namespace fedsilo::cross_silo {

class DrivenMachine {
 public:
  virtual ~DrivenMachine() = default;
  virtual bool done() const = 0;
  // Only after done(): how the run ended for this party.
  virtual ExitCode exit_code() const = 0;
  virtual void handle(const comm::Message& m) = 0;
  // When the current wait gives up; on_deadline() is called once it has passed, and either
  // ends the machine (done()) or moves the deadline (a quorum closes the round, a retry).
  virtual Clock::time_point deadline() const = 0;
  virtual void on_deadline() = 0;
  // The transport reconnected: what the other side may have missed goes again.
  virtual void on_reconnect() = 0;
  // comm_args.resend_interval_s without a message: the server asks again, a silo just logs.
  virtual void on_quiet() = 0;
  virtual ExitCode on_signal(int sig) = 0;
  // What the machine waits for, for log lines.
  virtual std::string waiting_for() const = 0;
};

struct DriverOptions {
  Clock::duration quiet_interval = std::chrono::seconds(10);
  // How often a wait wakes to look for signals.
  Clock::duration poll = std::chrono::milliseconds(200);
};

// Runs until the machine is done, a deadline passes or a signal arrives (see
// ScopedSignalHandlers; without it no signal is ever seen).
ExitCode drive(DrivenMachine& machine, comm::Transport& transport, Clock& clock,
               const DriverOptions& options, spdlog::logger& log);

}  // namespace fedsilo::cross_silo
