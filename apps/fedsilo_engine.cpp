// fedsilo-engine: the one-line APIs behind subcommands, with libtorch. Users run `fedsilo`
// (apps/fedsilo.cpp), which starts a silo's trainers itself and hands everything else to this
// program; it also runs on its own with the same command lines.
//   fedsilo server   --cf fedml_config.yaml --rank 0 [...]
//   fedsilo client   --cf fedml_config.yaml --rank k [--node_rank r] [...]
//   fedsilo simulate --cf fedml_config.yaml [...]
//   fedsilo provision --silos N --out DIR [...]
#include <cstring>
#include <iostream>

#include "fedsilo/fedsilo.h"

int main(int argc, char** argv) {
  const char* usage =
      "usage: fedsilo {server|client|simulate} --cf fedml_config.yaml [--rank N] [--run_id ID]\n"
      "               [--node_rank R] [--set section.key=value ...]   (fedsilo server --help)\n"
      "       fedsilo provision --silos N --out DIR [--broker-host H] [--broker-port P]\n";
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  std::string cmd = argv[1];
  // The subcommand takes the place of the program name for the FedML-style options.
  if (cmd == "server") return fedsilo::run_hierarchical_cross_silo_server(argc - 1, argv + 1);
  if (cmd == "client") return fedsilo::run_hierarchical_cross_silo_client(argc - 1, argv + 1);
  if (cmd == "simulate") return fedsilo::run_simulation(argc - 1, argv + 1);
  if (cmd == "provision") return fedsilo::run_provision(argc - 1, argv + 1);
  if (cmd == "--help" || cmd == "-h") {
    std::cout << usage;
    return 0;
  }
  std::cerr << "fedsilo: unknown command " << cmd << "\n" << usage;
  return 2;
}
