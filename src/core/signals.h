#pragma once
// SIGINT / SIGTERM for the long-running entry points (Server::run, Client::run, the launcher),
// opt-in and scoped: ScopedSignalHandlers installs a handler that only records the signal and
// restores the previous handlers when it goes out of scope, so a program embedding fedsilo keeps
// its own handling outside those calls. Loops poll pending_signal().
namespace fedsilo {

class ScopedSignalHandlers {
 public:
  ScopedSignalHandlers();
  ~ScopedSignalHandlers();
  ScopedSignalHandlers(const ScopedSignalHandlers&) = delete;
  ScopedSignalHandlers& operator=(const ScopedSignalHandlers&) = delete;
};

// The last SIGINT / SIGTERM received while handlers were installed, or 0.
int pending_signal();

}  // namespace fedsilo
