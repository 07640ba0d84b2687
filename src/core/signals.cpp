#include "core/signals.h"

#include <atomic>
#include <csignal>

namespace fedsilo {
namespace {

std::atomic<int> g_signal{0};
extern "C" void record_signal(int sig) { g_signal = sig; }

struct sigaction g_old_int, g_old_term;
std::atomic<int> g_depth{0};

}  // namespace

ScopedSignalHandlers::ScopedSignalHandlers() {
  if (g_depth++ > 0) return;  // nested scopes share the outermost installation
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = record_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

ScopedSignalHandlers::~ScopedSignalHandlers() {
  if (--g_depth > 0) return;
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

int pending_signal() { return g_signal.load(); }

}  // namespace fedsilo
