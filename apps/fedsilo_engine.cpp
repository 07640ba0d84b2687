// fedsilo-engine: the one-line APIs behind subcommands, with libtorch. Users run `fedsilo`
// (apps/fedsilo.cpp), which starts a silo's trainers itself and hands every other command to
// this program with the same arguments; it also runs on its own with those command lines.
#include <iostream>
#include <string>

#include "fedsilo/fedsilo.h"

int main(int argc, char** argv) {
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
