#pragma once
// Process exit codes of fedsilo's programs and of Server::run / Client::run (docs/api.md).
namespace fedsilo {

enum class ExitCode : int {
  kCompleted = 0,     // the run completed
  kFailed = 1,        // an unexpected internal or runtime error (e.g. a torch error)
  kBadInput = 2,      // a config value, file, data set or command line is wrong
  kDeadline = 3,      // a deadline passed (a peer is gone or the network is down)
  kAborted = 4,       // the server aborted the run (FINISH with status ABORTED)
  kStoreFailed = 5,   // the object store or the output folder failed (a write or read error)
  kNoProgress = 6,    // the run ended but every round was rejected: the model never changed
  kInterrupted = 130  // SIGINT or SIGTERM
};

constexpr int to_int(ExitCode c) { return static_cast<int>(c); }

}  // namespace fedsilo
