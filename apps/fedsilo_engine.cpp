// fedsilo-engine: the one-line APIs behind subcommands, with libtorch. Users run `fedsilo`
// (apps/fedsilo.cpp), which starts a silo's trainers itself and hands every other command to
// this program with the same arguments; it also runs on its own with those command lines.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "fedsilo/fedsilo.h"

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;  // LeakSanitizer reports from the exit handlers
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// By the time a command returns, its files are written, closed and renamed and its connections
// are closed; what is left are static destructors, libtorch's freeing its operator registry
// piece by piece, which is most of the time from the run's last line to the process's end.
int end_now(int code) {
  if (kSanitized) return code;
  spdlog::shutdown();
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  ::_exit(code);
}

int run(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  // The subcommand takes the place of the program name for the FedML-style options.
  if (cmd == "server") return fedsilo::run_hierarchical_cross_silo_server(argc - 1, argv + 1);
  if (cmd == "client") return fedsilo::run_hierarchical_cross_silo_client(argc - 1, argv + 1);
  if (cmd == "simulate") return fedsilo::run_simulation(argc - 1, argv + 1);
  if (cmd == "provision") return fedsilo::run_provision(argc - 1, argv + 1);
  std::cerr << "usage: fedsilo-engine {server|client|simulate|provision} <options>, as for "
               "fedsilo (fedsilo --help)\n";
  return cmd == "--help" || cmd == "-h" ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) { return end_now(run(argc, argv)); }
