// Large models end to end: server + 2 (or more) silos as processes over a real mosquitto, a user
// model of N parameters through the five-line API, and a trainer that only nudges the weights (so a
// round measures fedsilo, not SGD). Prints per round the time split into encode+upload /
// notify / download+verify / fold, every process's peak RSS against the memory bounds of
// docs/benchmarks.md, and the floor measured in the same run: the time to write, read back and
// sha256 the model's bytes once per hop (a round has two hops: global model down, update up).
//
//   build/bench/bench_large_model [params=134217728] [dtype=f32|bf16|f16] [store=dir|s3]
//                                 [rounds=3] [silos=2 | stages]
// "stages": the round's steps one at a time in this process, no federation.
//
// The same binary is the server and the silos (FEDSILO_BENCH_ROLE=server|client).
#include <fmt/format.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "build_paths.h"
#include "comm/object_store.h"
#include "core/sha256.h"
#include "core/subprocess.h"
#include "protocol/model_exchange.h"
#include "server/update_spool.h"
#include "fedsilo/fedsilo.h"
#include "ml/model_blob.h"

namespace fs = std::filesystem;
using namespace fedsilo;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kWidth = 8192;  // layers of 8192 x 8192 (67.1M parameters each)

torch::ScalarType dtype_of(const std::string& name) {
  if (name == "bf16") return torch::kBFloat16;
  if (name == "f16") return torch::kFloat16;
  return torch::kFloat32;
}

// Made in its own dtype from the start: a bfloat16 model never exists as float32.
struct BigModelImpl : torch::nn::Module {
  BigModelImpl(int64_t layers, torch::ScalarType dtype) {
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < layers; ++i) {
      register_parameter(fmt::format("layer{}_weight", i),
                         torch::empty({kWidth, kWidth}, dtype).uniform_(-0.01, 0.01));
    }
  }
  torch::Tensor forward(torch::Tensor x) { return x; }
};
TORCH_MODULE(BigModel);

class NudgeTrainer : public Trainer {
 public:
  TrainResult train(Model& model, const TensorData& data, const TrainContext&) override {
    torch::NoGradGuard no_grad;
    for (auto& p : model.module().parameters()) p.add_(1e-3);
    return {data.size(), 0.0, 0.0, 1};
  }
};

FederatedDataset tiny_dataset(int64_t silos) {
  FederatedDataset ds;
  TensorData d{torch::zeros({100, 4}), torch::zeros({100}, torch::kInt64)};
  ds.train_data_global = ds.test_data_global = d;
  ds.train_data_num = ds.test_data_num = 100;
  ds.class_num = 2;
  for (int64_t c = 0; c < silos; ++c) {
    ds.train_data_local_dict[c] = ds.test_data_local_dict[c] = d;
    ds.train_data_local_num_dict[c] = 100;
  }
  return ds;
}

int64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

int run_role(int argc, char** argv, const std::string& role) {
  auto args = fedsilo::init(argc, argv);
  int64_t layers = std::atoll(std::getenv("FEDSILO_BENCH_LAYERS"));
  int64_t silos = std::atoll(std::getenv("FEDSILO_BENCH_SILOS"));
  torch::manual_seed(args.random_seed);
  BigModel big(layers, dtype_of(std::getenv("FEDSILO_BENCH_DTYPE")));
  // FEDSILO_BENCH_DEVICE=cuda (scripts/gpu-check.sh): the model lives on the GPU.
  const char* dev = std::getenv("FEDSILO_BENCH_DEVICE");
  torch::Device device = dev && std::string(dev) == "cuda" ? torch::kCUDA : torch::kCPU;
  big->to(device);
  Model model = big;
  int rc;
  if (role == "server") {
    rc = cross_silo::hierarchical::Server(args, device, tiny_dataset(silos), model)
             .with_evaluator([](Model&, int64_t) { return nlohmann::json::object(); })
             .run();
  } else {
    rc = cross_silo::hierarchical::Client(args, device, tiny_dataset(silos), model)
             .with_trainer(
                 [](const Args&, GradientSync*) { return std::make_unique<NudgeTrainer>(); })
             .run();
  }
  std::ofstream(std::getenv("FEDSILO_BENCH_RSS_FILE")) << peak_rss_bytes();
  return rc;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One hop's floor: write the bytes to a file in `dir`, read them back, sha256 them.
double hop_floor_s(const fs::path& dir, int64_t bytes) {
  constexpr size_t kChunk = 16 << 20;
  std::string chunk(kChunk, '\x5a');
  auto path = dir / "floor.bin";
  auto t0 = std::chrono::steady_clock::now();
  {
    std::ofstream out(path, std::ios::binary);
    for (int64_t left = bytes; left > 0; left -= kChunk)
      out.write(chunk.data(), std::min<int64_t>(left, kChunk));
  }
  Sha256 sha;
  std::ifstream in(path, std::ios::binary);
  while (in.read(chunk.data(), kChunk) || in.gcount() > 0) sha.update(chunk.data(), in.gcount());
  sha.hex();
  double s = seconds_since(t0);
  fs::remove(path);
  return s;
}

// The same steps in one process, one at a time, on an idle machine: where a round's time goes
// when nothing else competes for the cores and the disk.
void stages(int64_t layers, const std::string& dtype, const fs::path& dir) {
  torch::manual_seed(1);
  BigModel model(layers, dtype_of(dtype));
  auto state = state_of(*model);
  comm::DirectoryStore store((dir / "stages").string());
  auto time = [](const char* what, auto&& f) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    fmt::print("  {:<44} {:>8.2f} s\n", what, seconds_since(t0));
  };
  BlobRef ref;
  fmt::print("stages, in one process:\n");
  time("encode + write + sha256 (put_model)",
       [&] { ref = cross_silo::put_model(store, "m", state); });
  StateDict got;
  time("read + verify into fresh tensors (get_model)",
       [&] { got = cross_silo::get_model(store, ref, layout_of(state), "bench"); });
  time("check_finite", [&] { check_finite(got, "bench"); });
  time("load_state", [&] { load_state(*model, got, "bench"); });
  got.clear();
  cross_silo::UpdateSpool spool((dir / "spool").string());
  spool.reset(state);
  time("read + verify + spool, 2 silos", [&] {
    for (int64_t silo : {1, 2}) {
      spool.receive(store, ref, silo, "bench");
      spool.accept(silo, 1.0);
    }
  });
  time("fold 2 spooled updates (report)", [&] { got = spool.report(); });
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* role = std::getenv("FEDSILO_BENCH_ROLE")) {
    try {
      return run_role(argc, argv, role);
    } catch (const std::exception& e) {
      fmt::print(stderr, "bench_large_model {}: {}\n", role, e.what());
      return 2;
    }
  }
  int64_t params = argc > 1 ? std::atoll(argv[1]) : 134217728;
  std::string dtype = argc > 2 ? argv[2] : "f32";
  std::string store = argc > 3 ? argv[3] : "dir";
  int rounds = argc > 4 ? std::atoi(argv[4]) : 3;
  bool only_stages = argc > 5 && std::string(argv[5]) == "stages";
  int silos = argc > 5 && !only_stages ? std::atoi(argv[5]) : 2;
  int64_t layers = std::max<int64_t>(1, (params + kWidth * kWidth / 2) / (kWidth * kWidth));
  int64_t model_bytes =
      layers * kWidth * kWidth * static_cast<int64_t>(c10::elementSize(dtype_of(dtype)));
  fs::path dir = fs::temp_directory_path() / fmt::format("fedsilo-large-{}", ::getpid());
  fs::create_directories(dir);
  if (only_stages) {
    stages(layers, dtype, dir);
    fs::remove_all(dir);
    return 0;
  }

  Subprocess::Options quiet;
  quiet.output_file = (dir / "services.log").string();
  int mqtt_port = free_loopback_port();
  std::ofstream(dir / "mosquitto.conf")
      << "listener " << mqtt_port << " 127.0.0.1\nallow_anonymous true\n";
  std::ofstream(dir / "mqtt.yaml") << "BROKER_HOST: 127.0.0.1\nBROKER_PORT: " << mqtt_port << "\n";
  Subprocess broker({"mosquitto", "-c", (dir / "mosquitto.conf").string()}, quiet);
  std::unique_ptr<Subprocess> s3;
  std::string id_list = "[1";
  for (int k = 2; k <= silos; ++k) id_list += ", " + std::to_string(k);
  id_list += "]";
  std::vector<std::string> sets = {"comm_args.mqtt_config_path=" + (dir / "mqtt.yaml").string(),
                                   "tracking_args.log_file_dir=" + (dir / "log").string(),
                                   "train_args.comm_round=" + std::to_string(rounds),
                                   "train_args.epochs=1",
                                   "validation_args.frequency_of_the_test=1000000",
                                   "train_args.client_id_list=" + id_list,
                                   "train_args.client_num_in_total=" + std::to_string(silos),
                                   "train_args.client_num_per_round=" + std::to_string(silos),
                                   "comm_args.round_timeout_s=600",
                                   "client_silo_args.n_proc_per_node=1",
                                   "data_args.data_cache_dir=" + (dir / "data").string()};
  if (store == "s3") {
    int s3_port = free_loopback_port();
    fs::create_directories(dir / "s3");
    s3 = std::make_unique<Subprocess>(
        std::vector<std::string>{
            std::string(fedsilo::build_paths::source_dir()) + "/node_modules/.bin/s3rver", "-d",
            (dir / "s3").string(), "-a", "127.0.0.1", "-p", std::to_string(s3_port), "-s",
            "--configure-bucket", "fedsilo"},
        quiet);
    std::ofstream(dir / "s3.yaml") << "BUCKET_NAME: fedsilo\nCN_S3_AKI: S3RVER\nCN_S3_SAK: S3RVER\n"
                                   << "S3_ENDPOINT: http://127.0.0.1:" << s3_port << "\n";
    sets.push_back("comm_args.s3_config_path=" + (dir / "s3.yaml").string());
    if (!wait_for_port("127.0.0.1", s3_port, 30s)) throw std::runtime_error("s3rver did not start");
  } else {
    sets.push_back("comm_args.object_store=file://" + (dir / "blobs").string());
  }
  if (const char* dev = std::getenv("FEDSILO_BENCH_DEVICE"); dev && std::string(dev) == "cuda")
    sets.push_back("device_args.using_gpu=true");
  if (!wait_for_port("127.0.0.1", mqtt_port, 10s))
    throw std::runtime_error("mosquitto did not start");

  std::string config = std::string(fedsilo::build_paths::source_dir()) +
                       "/examples/cross_silo/mqtt_s3_fedavg_hierarchical_mnist_lr/one_line/config/"
                       "fedml_config.yaml";
  auto launch = [&](const std::string& role, int rank) {
    std::vector<std::string> a = {"/proc/self/exe",     "--cf",     config, "--rank",
                                  std::to_string(rank), "--run_id", "large"};
    a[0] = fs::read_symlink("/proc/self/exe").string();
    for (auto& s : sets) {
      a.push_back("--set");
      a.push_back(s);
    }
    a.insert(a.end(),
             {"--set", "client_silo_args.pg_master_port=" + std::to_string(free_loopback_port())});
    Subprocess::Options o;
    o.output_file = (dir / (role + std::to_string(rank) + ".out")).string();
    o.env = {{"FEDSILO_BENCH_ROLE", role},
             {"FEDSILO_BENCH_SILOS", std::to_string(silos)},
             {"FEDSILO_BENCH_LAYERS", std::to_string(layers)},
             {"FEDSILO_BENCH_DTYPE", dtype},
             {"FEDSILO_BENCH_RSS_FILE", (dir / (role + std::to_string(rank) + ".rss")).string()}};
    return std::make_unique<Subprocess>(a, o);
  };
  fmt::print(
      "large model: {} layers of {}x{} {} = {:.0f}M parameters, {:.0f} MB; store {}; "
      "{} rounds; server + {} silos, mosquitto\n",
      layers, kWidth, kWidth, dtype, layers * kWidth * kWidth / 1e6, model_bytes / 1e6, store,
      rounds, silos);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<Subprocess>> clients;
  for (int k = 1; k <= silos; ++k) clients.push_back(launch("client", k));
  auto server = launch("server", 0);
  auto rc = server->wait_for(3600s);
  double wall = seconds_since(t0);
  for (auto& c : clients) c->wait_for(60s);
  if (!rc || *rc != 0) {
    fmt::print(stderr, "the server failed (exit {}); see {}\n", rc ? *rc : -1, dir.string());
    return 1;
  }

  std::map<std::string, std::vector<double>> f;
  std::ifstream in(dir / "log" / "run_large" / "metrics.jsonl");
  double prev_elapsed = -1;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    double s_down = 0, s_up = 0, notify = 0, server_down = 0;
    for (const auto& s : j["silos"]) {
      s_down = std::max(s_down, s["download_ms"].get<double>());
      s_up = std::max(s_up, s.value("upload_ms", 0.0));
      notify = std::max(notify, s.value("sync_notify_ms", 0.0) + s.value("notify_ms", 0.0));
      server_down += s["server_download_ms"].get<double>();
    }
    double elapsed = j["elapsed_s"].get<double>();
    if (prev_elapsed >= 0) f["round (wall, incl. checkpoint)"].push_back(elapsed - prev_elapsed);
    prev_elapsed = elapsed;
    f["server encode + upload global"].push_back(j["server_upload_ms"].get<double>() / 1000);
    f["silo download + verify (slowest)"].push_back(s_down / 1000);
    f["silo encode + upload (slowest)"].push_back(s_up / 1000);
    f["notify (MQTT hops)"].push_back(notify / 1000);
    f["server download + verify + spool (all silos)"].push_back(server_down / 1000);
    f["server fold (all silos)"].push_back(j["aggregate_ms"].get<double>() / 1000);
    f["round (server's round_ms)"].push_back(j["round_ms"].get<double>() / 1000);
  }
  double hop = median({hop_floor_s(dir, model_bytes), hop_floor_s(dir, model_bytes),
                       hop_floor_s(dir, model_bytes)});
  fmt::print("\n{:<42} {:>10}\n", "per round (median over rounds)", "seconds");
  for (const auto& [k, v] : f) fmt::print("{:<42} {:>10.2f}\n", k, median(v));
  fmt::print("{:<42} {:>10.2f}\n", "floor: one hop (write + read + sha256)", hop);
  double round_s = median(f["round (wall, incl. checkpoint)"]);
  if (round_s > 0)
    fmt::print("{:<42} {:>10.2f}\n", "round / (2 hops of floor)", round_s / (2 * hop));
  fmt::print("{:<42} {:>10.1f}\n", "end to end (s)", wall);

  double mib = 1024.0 * 1024.0;
  fmt::print("\n{:<10} {:>14} {:>12} {:>22}\n", "process", "peak RSS MiB", "x model",
             "bound (MiB)");
  std::vector<std::tuple<std::string, int, double>> procs = {{"server", 0, 2.5}};
  for (int k = 1; k <= silos; ++k) procs.emplace_back("client", k, 2.0);
  for (auto [role, rank, factor] : procs) {
    int64_t rss = 0;
    std::ifstream(dir / (role + std::to_string(rank) + ".rss")) >> rss;
    double bound = factor * model_bytes / mib + 300;
    fmt::print("{:<10} {:>14.0f} {:>12.2f} {:>15.0f} {}\n",
               role == "server" ? std::string("server") : fmt::format("silo {}", rank), rss / mib,
               static_cast<double>(rss) / model_bytes, bound,
               rss / mib <= bound ? "within" : "OVER");
  }
  fs::remove_all(dir);
  return 0;
}
