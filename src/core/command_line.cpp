#include "core/command_line.h"

#include <atomic>

#include <CLI/CLI.hpp>

#include <cctype>
#include <cstdlib>

#include "core/log.h"
#include "fedsilo/error.h"

namespace fedsilo {

namespace {
std::atomic<int> option_count{-1};
}  // namespace

void set_program_option_count(int count) { option_count = count; }
int program_option_count() { return option_count; }

Args parse_command_line(int argc, char** argv) {
  std::string cf, run_id;
  int64_t rank = -1, node_rank = -1;
  std::vector<std::string> sets;
  CLI::App app{"fedsilo: hierarchical cross-silo federated learning"};
  app.add_option("--cf", cf, "fedml_config.yaml (FedML format)")->required();
  app.add_option("--rank", rank, "0 = server, k = silo k");
  app.add_option("--run_id", run_id, "run identifier (topics, blob keys, output folder)");
  app.add_option("--node_rank", node_rank, "this node's rank inside its silo");
  app.add_option("--set", sets, "override a config value: section.key=value (repeatable)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::exit(app.exit(e));
  } catch (const CLI::ParseError& e) {
    throw ConfigError(std::string("command line: ") + e.what() + " (--help lists the options)");
  }
  logging::init();
  Args args = load_args(cf, sets);
  if (rank >= 0) args.rank = rank;
  if (!run_id.empty()) args.run_id = run_id;
  // It names a folder (run_<id>) and every topic and blob key: 128 keeps all of them well
  // inside the filesystem's 255-byte names and the store's 1024-byte keys.
  if (args.run_id.size() > 128 || args.run_id == "." || args.run_id == "..") {
    throw ConfigError("--run_id: " + std::to_string(args.run_id.size()) +
                      " characters; at most 128, and not . or ..");
  }
  for (char c : args.run_id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      throw ConfigError("--run_id " + args.run_id +
                        ": use letters, digits, '-', '_' and '.' only (it names topics and keys)");
    }
  }
  if (node_rank >= 0) {
    if (node_rank >= args.n_node_in_silo) {
      throw ConfigError("--node_rank " + std::to_string(node_rank) +
                        " must be < client_silo_args.n_node_in_silo (" +
                        std::to_string(args.n_node_in_silo) + ")");
    }
    args.node_rank_in_silo = node_rank;
  }
  return args;
}

}  // namespace fedsilo
