// The fedsilo command-line tool. `fedsilo simulate --cf config.yaml` runs the server and every
// silo in one process.
#include <c10/util/Exception.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "core/log.h"
#include "fedsilo/args.h"
#include "fedsilo/distributed.h"
#include "fedsilo/error.h"
#include "fedsilo/simulate.h"

namespace {

struct CommonOptions {
  std::string cf;
  int64_t rank = -1;
  std::string run_id;
  int64_t node_rank = -1;
  std::vector<std::string> sets;
};

void add_common(CLI::App* app, CommonOptions& o) {
  app->add_option("--cf", o.cf, "fedml_config.yaml (FedML format)")->required();
  app->add_option("--rank", o.rank, "0 = server, k = silo k");
  app->add_option("--run_id", o.run_id, "run identifier (topics, blob keys, output folder)");
  app->add_option("--node_rank", o.node_rank, "this node's rank inside its silo");
  app->add_option("--set", o.sets, "override a config value: section.key=value (repeatable)");
}

fedsilo::Args load(const CommonOptions& o) {
  auto args = fedsilo::load_args(o.cf, o.sets);
  if (o.rank >= 0) args.rank = o.rank;
  if (!o.run_id.empty()) args.run_id = o.run_id;
  for (char c : args.run_id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      throw fedsilo::ConfigError(
          "--run_id " + args.run_id +
          ": use letters, digits, '-', '_' and '.' only (it names topics and keys)");
    }
  }
  if (o.node_rank >= 0) {
    if (o.node_rank >= args.n_node_in_silo) {
      throw fedsilo::ConfigError("--node_rank " + std::to_string(o.node_rank) +
                                 " must be < client_silo_args.n_node_in_silo (" +
                                 std::to_string(args.n_node_in_silo) + ")");
    }
    args.node_rank_in_silo = o.node_rank;
  }
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fedsilo: hierarchical cross-silo federated learning"};
  app.require_subcommand(1);
  CommonOptions sim, srv, cli;
  auto* simulate = app.add_subcommand("simulate", "run the server and all silos in one process");
  add_common(simulate, sim);
  auto* server =
      app.add_subcommand("server", "run the server (--rank 0) over MQTT and the object store");
  add_common(server, srv);
  auto* client = app.add_subcommand("client", "run silo --rank k over MQTT and the object store");
  add_common(client, cli);
  CLI11_PARSE(app, argc, argv);

  try {
    fedsilo::logging::init();
    if (simulate->parsed()) {
      auto args = load(sim);
      fedsilo::logging::init(
          (std::filesystem::path(args.run_output_dir()) / "simulate.log").string(), args.log_level);
      auto summary = fedsilo::simulate(args);
      std::cout << "fedsilo simulate: done in " << summary.wall_s << " s; final "
                << summary.final_metrics.dump() << "; outputs in " << summary.output_dir
                << std::endl;
      return 0;
    }
    if (server->parsed()) {
      auto args = load(srv);
      if (args.rank != 0) throw fedsilo::ConfigError("fedsilo server: --rank must be 0");
      fedsilo::logging::init((std::filesystem::path(args.run_output_dir()) / "server.log").string(),
                             args.log_level);
      return fedsilo::run_server(args);
    }
    auto args = load(cli);
    if (args.rank < 1) throw fedsilo::ConfigError("fedsilo client: --rank must be a silo id >= 1");
    fedsilo::logging::init(
        (std::filesystem::path(args.run_output_dir()) / fedsilo::silo_log_name(args)).string(),
        args.log_level);
    return fedsilo::run_silo(args, std::vector<std::string>(argv, argv + argc));

  } catch (const fedsilo::Error& e) {
    std::cerr << "fedsilo: error: " << e.what() << std::endl;
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "fedsilo: torch error: " << e.what_without_backtrace() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "fedsilo: error: " << e.what() << std::endl;
    return 1;
  }
}
