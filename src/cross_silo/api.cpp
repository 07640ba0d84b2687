#include <c10/util/Exception.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "core/gpu_mapping.h"
#include "core/log.h"
#include "fedsilo/distributed.h"
#include "fedsilo/fedsilo.h"
#include "silo/silo_role.h"

namespace fedsilo {

namespace device {
torch::Device get_device(const Args& args) {
  if (!args.using_gpu) return torch::kCPU;
  if (!torch::cuda::is_available()) {
    SPDLOG_WARN(
        "device_args.using_gpu is true but CUDA is not available in this build or machine; using "
        "the CPU");
    return torch::kCPU;
  }
  int64_t count = torch::cuda::device_count();
  if (!args.gpu_mapping_file.empty()) {
    // FedML's hierarchical cross-silo numbering: the server is process 0 of its mapping, a
    // silo's trainers are processes 0..n-1 of theirs (each party reads its own config).
    int64_t index = args.rank == 0 ? 0 : silo::SiloRole::of(args).silo_rank;
    auto slot =
        gpu_slot_from_mapping(args.resolve(args.gpu_mapping_file), args.gpu_mapping_key, index);
    if (slot.gpu >= count) {
      throw ConfigError(fmt::format(
          "device_args.gpu_mapping_file {}: process {} is mapped to GPU {} of host {}, but this "
          "machine has {} GPU(s)",
          args.gpu_mapping_file, index, slot.gpu, slot.host, count));
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(slot.gpu));
  }
  // Without a mapping: process k of this machine takes GPU (k mod device count).
  int64_t slot = args.rank == 0 ? 0 : (args.rank - 1) * args.n_proc_in_silo();
  if (args.rank != 0) slot += silo::SiloRole::of(args).silo_rank;
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(slot % count));
}
}  // namespace device

namespace cross_silo::hierarchical {

Client::Client(const Args& args, torch::Device device, FederatedDataset dataset, Model model)
    : args_(args), device_(device), dataset_(std::move(dataset)), model_(std::move(model)) {
  model_.module().to(device_);
  trainer_ = registry::trainer_for(args_.federated_optimizer);
}

Client& Client::with_trainer(TrainerFactory factory) {
  trainer_ = std::move(factory);
  return *this;
}

int Client::run() { return run_silo(args_, dataset_, std::move(model_), trainer_); }

Server::Server(const Args& args, torch::Device device, FederatedDataset dataset, Model model)
    : args_(args), device_(device), dataset_(std::move(dataset)), model_(std::move(model)) {
  model_.module().to(device_);
}

Server& Server::with_aggregator(std::unique_ptr<Aggregator> aggregator) {
  aggregator_ = std::move(aggregator);
  return *this;
}

Server& Server::with_evaluator(Evaluator evaluator) {
  evaluator_ = std::move(evaluator);
  return *this;
}

int Server::run() {
  return run_server(args_, dataset_, std::move(model_), std::move(aggregator_), evaluator_);
}

}  // namespace cross_silo::hierarchical

namespace {

// One line, written whole: a silo's trainers fail together (the same config and data), and
// their lines must not interleave. A worker says which trainer it is.
void say(const char* kind, const std::string& what) {
  std::string who;
  if (const char* r = std::getenv(silo::kSiloRankVariable); r && std::string(r) != "0")
    who = std::string(" (trainer ") + r + ")";
  std::string line = std::string("fedsilo: ") + kind + who + ": " + what + "\n";
  std::cerr.write(line.data(), static_cast<std::streamsize>(line.size()));
  std::cerr.flush();
}

// Bad input ends a one-line program with one line on stderr and exit code 2, never a trace;
// a store or output failure with exit code 5.
template <typename F>
int guarded(F&& body) {
  try {
    return body();
  } catch (const StoreError& e) {
    say("storage error", e.what());
    return to_int(ExitCode::kStoreFailed);
  } catch (const TimeoutError& e) {
    // A peer that never came (the broker down, a silo's trainers that never met): a deadline.
    say("error", e.what());
    return to_int(ExitCode::kDeadline);
  } catch (const Error& e) {
    say("error", e.what());
    return to_int(ExitCode::kBadInput);
  } catch (const c10::Error& e) {
    say("torch error", e.what_without_backtrace());
    return to_int(ExitCode::kFailed);
  } catch (const std::filesystem::filesystem_error& e) {
    // A path the config names that cannot be made or used (a run folder whose parent is a
    // file, a name too long for the filesystem): the config's fault, not the program's.
    say("error", e.what());
    return to_int(ExitCode::kBadInput);
  } catch (const std::exception& e) {
    say("error", e.what());
    return to_int(ExitCode::kFailed);
  }
}

}  // namespace

int run_hierarchical_cross_silo_server(int argc, char** argv) {
  return guarded([&] {
    auto args = init(argc, argv);
    if (args.rank != 0)
      throw ConfigError("server: --rank must be 0, got " + std::to_string(args.rank));
    auto device = device::get_device(args);
    auto [dataset, output_dim] = data::load_cross_silo(args);
    auto model = model::create(args, output_dim, dataset.train_data_global.x[0].numel());
    return cross_silo::hierarchical::Server(args, device, std::move(dataset), std::move(model))
        .run();
  });
}

int run_hierarchical_cross_silo_client(int argc, char** argv) {
  return guarded([&] {
    auto args = init(argc, argv);
    if (args.rank < 1) throw ConfigError("client: --rank must be a silo id >= 1 (0 is the server)");
    if (is_silo_launcher(args)) return run_silo_launcher(args);  // its trainers load the data
    auto device = device::get_device(args);
    auto [dataset, output_dim] = data::load_cross_silo(args);
    auto model = model::create(args, output_dim, dataset.train_data_global.x[0].numel());
    return cross_silo::hierarchical::Client(args, device, std::move(dataset), std::move(model))
        .run();
  });
}

int run_simulation(int argc, char** argv) {
  return guarded([&] {
    auto args = init(argc, argv);
    logging::init((std::filesystem::path(args.run_output_dir()) / "simulate.log").string(),
                  args.log_level);
    auto summary = simulate(args);
    std::cout << "fedsilo simulate: done in " << summary.wall_s << " s; final "
              << summary.final_metrics.dump() << "; outputs in " << summary.output_dir << std::endl;
    return to_int(ExitCode::kCompleted);
  });
}

}  // namespace fedsilo
