#include "core/signals.h"

#include <gtest/gtest.h>

#include <csignal>

namespace {
int user_handler_calls = 0;
extern "C" void user_handler(int) { ++user_handler_calls; }
}  // namespace

TEST(Signals, ScopedHandlersRecordThenRestoreTheProgramsOwn) {
  std::signal(SIGTERM, user_handler);
  {
    fedsilo::ScopedSignalHandlers scope;
    EXPECT_EQ(fedsilo::pending_signal(), 0);
    std::raise(SIGTERM);
    EXPECT_EQ(fedsilo::pending_signal(), SIGTERM) << "recorded, not acted on";
    EXPECT_EQ(user_handler_calls, 0);
  }
  std::raise(SIGTERM);
  EXPECT_EQ(user_handler_calls, 1) << "the program's handler is back after the scope";
  std::signal(SIGTERM, SIG_DFL);
}
