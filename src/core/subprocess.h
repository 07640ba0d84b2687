#pragma once
// Child processes for the launcher, the demo and the integration tests: start, watch, stop, and
// never leave one behind. Each child gets its own process group so a stop reaches its children.
#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedsilo {

class Subprocess {
 public:
  struct Options {
    std::map<std::string, std::string> env;  // added to (or replacing in) the parent's environment
    std::string output_file;                 // stdout + stderr go here when set (appended)
    bool own_process_group = true;
    bool die_with_parent = false;  // SIGKILL the child if this process dies (no orphans)
  };
  Subprocess(const std::vector<std::string>& argv, const Options& options);
  Subprocess(const std::vector<std::string>& argv) : Subprocess(argv, Options{}) {}
  ~Subprocess();  // stops the child (SIGTERM, then SIGKILL) if it still runs
  // A child this process did not start: one a child subreaper adopted (the launcher's forked
  // trainers). Watched and stopped like the others; signals go to it alone.
  static std::unique_ptr<Subprocess> adopt(pid_t pid);
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  // Exit status if the child has ended (128 + signal number when killed), without waiting.
  std::optional<int> poll();
  // Waits up to `timeout`; nullopt when the child still runs.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  // SIGTERM, up to `grace` to exit, then SIGKILL. Returns the exit status.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
  void signal(int sig);

 private:
  Subprocess() = default;
  pid_t pid_ = -1;
  std::optional<int> status_;
  bool group_ = true;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
int free_loopback_port();

// True once something accepts TCP connections on host:port, false at the deadline.
bool wait_for_port(const std::string& host, int port, std::chrono::milliseconds timeout);

}  // namespace fedsilo
