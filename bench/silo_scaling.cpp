// Samples per second of one silo with 1 and 2 trainer processes (DDP over Gloo on loopback) for
// the lr and cnn models on MNIST, the all-reduce time per step, and the scaling ratio
// throughput(2) / throughput(1). Batch size 10 per trainer, as in the seed's config.
//
//   build/bench/bench_silo_scaling [epochs=3]     (needs scripts/get-data.sh)
#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "build_paths.h"
#include "core/subprocess.h"
#include "fedsilo/dataset.h"
#include "fedsilo/trainer.h"
#include "silo/ddp_gradient_sync.h"

using namespace fedsilo;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

Args bench_args(const std::string& model) {
  auto a = parse_args_yaml("data_args: {dataset: mnist, data_cache_dir: '" +
                           std::string(fedsilo::build_paths::source_dir()) +
                           "/data', partition_method: homo}\n"
                           "train_args: {client_num_in_total: 1, client_num_per_round: 1, "
                           "client_id_list: '[1]', batch_size: 10,"
                           " learning_rate: 0.03, epochs: 1}\n");
  a.model = model;
  return a;
}

int worker(int rank, int world, int port, const std::string& model, int epochs,
           const std::string& out) {
  torch::set_num_threads(1);
  auto args = bench_args(model);
  auto [ds, classes] = data::load_cross_silo(args);
  auto m = model::create(args, classes);
  std::unique_ptr<silo::SiloGroup> group;
  std::unique_ptr<silo::DdpGradientSync> ddp;
  if (world > 1) {
    silo::GroupOptions o;
    o.master_port = port;
    o.rank = rank;
    o.world_size = world;
    group = silo::SiloGroup::connect(o);
    ddp = std::make_unique<silo::DdpGradientSync>(*group);
  }
  ClassificationTrainer trainer(args, ddp.get());
  std::vector<double> secs;
  const auto& data = ds.train_data_local_dict[0];
  for (int e = 0; e < epochs; ++e) {
    auto t0 = std::chrono::steady_clock::now();
    trainer.train(m, data, TrainContext{e, 1, 0});
    secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(secs.begin(), secs.end());
  nlohmann::json r = {{"epoch_s", secs[secs.size() / 2]}, {"samples", data.size()}};
  if (ddp)
    r["allreduce_ms_per_step"] =
        1e3 * ddp->allreduce_seconds() / std::max<int64_t>(1, ddp->steps());
  std::ofstream(out) << r.dump();
  return 0;
}

nlohmann::json run(const std::string& self, int world, const std::string& model, int epochs,
                   const fs::path& dir) {
  int port = free_loopback_port();
  std::vector<std::unique_ptr<Subprocess>> procs;
  for (int r = 0; r < world; ++r) {
    procs.push_back(std::make_unique<Subprocess>(std::vector<std::string>{
        self, "--worker", std::to_string(r), std::to_string(world), std::to_string(port), model,
        std::to_string(epochs), (dir / fmt::format("{}-{}-{}.json", model, world, r)).string()}));
  }
  for (auto& p : procs) {
    auto code = p->wait_for(600s);
    if (!code || *code != 0) throw std::runtime_error("a benchmark worker failed");
  }
  return nlohmann::json::parse(std::ifstream(dir / fmt::format("{}-{}-0.json", model, world)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--worker") {
    return worker(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]), argv[5],
                  std::atoi(argv[6]), argv[7]);
  }
  int epochs = argc > 1 ? std::atoi(argv[1]) : 3;
  auto dir = fs::temp_directory_path() / fmt::format("fedsilo-scaling-{}", ::getpid());
  fs::create_directories(dir);
  std::string self = fs::read_symlink("/proc/self/exe").string();
  fmt::print(
      "one silo, MNIST train set as its data, batch 10 per trainer, 1 thread per trainer, median "
      "of {} epochs\n",
      epochs);
  fmt::print("{:>6} {:>9} {:>14} {:>18} {:>10}\n", "model", "trainers", "samples/s",
             "all-reduce ms/step", "scaling");
  for (std::string model : {"lr", "cnn"}) {
    double base = 0;
    for (int world : {1, 2}) {
      auto r = run(self, world, model, model == "cnn" ? std::max(1, epochs / 3) : epochs, dir);
      double rate = r["samples"].get<double>() / r["epoch_s"].get<double>();
      if (world == 1) base = rate;
      fmt::print("{:>6} {:>9} {:>14.0f} {:>18} {:>9.2f}x\n", model, world, rate,
                 r.contains("allreduce_ms_per_step")
                     ? fmt::format("{:.3f}", r["allreduce_ms_per_step"].get<double>())
                     : std::string("-"),
                 rate / base);
    }
  }
  fs::remove_all(dir);
  return 0;
}
