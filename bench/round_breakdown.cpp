// Per-round time of a distributed run of the seed's config (server + 2 silos as processes,
// real mosquitto on loopback), split into train / upload / notify / download / aggregate /
// evaluate, with the directory store and with S3 (s3rver), and the end-to-end wall time of the
// 50-round run. Medians over rounds, and over runs for the wall time.
//
//   build/bench/bench_round_breakdown [runs=3] [dashboard]  (needs scripts/get-data.sh, setup.sh)
// "dashboard": only the directory store, without and with the live dashboard
// (tracking_args.dashboard_port), a client reading /api/status and /metrics twice a second as
// an open page and a scraper would.
#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <unistd.h>

#include "build_paths.h"
#include "comm/s3_store.h"
#include "core/sha256.h"
#include "core/subprocess.h"

namespace fs = std::filesystem;
using namespace fedsilo;
using namespace std::chrono_literals;

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

struct Services {
  fs::path dir;
  int mqtt_port = 0, s3_port = 0;
  int trainers = 1;  // per silo
  bool dashboard = false;
  std::unique_ptr<Subprocess> broker, s3;
};

std::map<std::string, std::vector<double>> one_run(const Services& sv, bool s3,
                                                   const std::string& run_id, double* wall_s) {
  std::string example =
      std::string(fedsilo::build_paths::source_dir()) +
      "/examples/cross_silo/mqtt_s3_fedavg_hierarchical_mnist_lr/one_line/config/fedml_config.yaml";
  std::vector<std::string> sets = {
      "comm_args.mqtt_config_path=" + (sv.dir / "mqtt.yaml").string(),
      "tracking_args.log_file_dir=" + (sv.dir / "log").string(),
      "data_args.data_cache_dir=" + std::string(fedsilo::build_paths::source_dir()) + "/data"};
  if (s3) {
    sets.push_back("comm_args.s3_config_path=" + (sv.dir / "s3.yaml").string());
  } else {
    sets.push_back("comm_args.object_store=file://" + (sv.dir / ("blobs-" + run_id)).string());
  }
  auto launch = [&](const std::string& role, int rank) {
    std::vector<std::string> argv = {
        fedsilo::build_paths::cli(), role,       "--cf", example, "--rank",
        std::to_string(rank),        "--run_id", run_id};
    for (auto& s : sets) {
      argv.push_back("--set");
      argv.push_back(s);
    }
    // Both silos run on this machine: each needs its own process-group port.
    argv.insert(argv.end(),
                {"--set", "client_silo_args.pg_master_port=" + std::to_string(free_loopback_port()),
                 "--set", "client_silo_args.n_proc_per_node=" + std::to_string(sv.trainers)});
    Subprocess::Options o;
    o.output_file = (sv.dir / (run_id + "-" + role + std::to_string(rank) + ".out")).string();
    return std::make_unique<Subprocess>(argv, o);
  };
  int dash_port = free_loopback_port();
  if (sv.dashboard) sets.push_back("tracking_args.dashboard_port=" + std::to_string(dash_port));
  auto t0 = std::chrono::steady_clock::now();
  auto c1 = launch("client", 1), c2 = launch("client", 2), server = launch("server", 0);
  std::atomic<bool> stop{false};
  std::thread page;
  if (sv.dashboard) {
    page = std::thread([&] {
      httplib::Client client("127.0.0.1", dash_port);
      client.set_connection_timeout(0, 200000);
      while (!stop) {
        client.Get("/api/status");
        client.Get("/metrics");
        std::this_thread::sleep_for(500ms);  // a page's polling interval
      }
    });
  }
  auto rc = server->wait_for(300s);
  stop = true;
  if (page.joinable()) page.join();
  *wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c1->wait_for(30s);
  c2->wait_for(30s);
  if (!rc || *rc != 0) throw std::runtime_error("server failed; see " + sv.dir.string());

  std::map<std::string, std::vector<double>> f;
  std::ifstream in(sv.dir / "log" / ("run_" + run_id) / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    double train = 0, upload = 0, notify = 0, download = 0, fold = 0, silo_get = 0, server_get = 0;
    for (const auto& s : j["silos"]) {
      train = std::max(train, s["train_ms"].get<double>());
      upload = std::max(upload, s["upload_ms"].get<double>());
      silo_get = std::max(silo_get, s["download_ms"].get<double>());
      server_get = std::max(server_get, s["server_download_ms"].get<double>());
      notify = std::max(notify, s["sync_notify_ms"].get<double>() + s["notify_ms"].get<double>());
      download = std::max(download,
                          s["download_ms"].get<double>() + s["server_download_ms"].get<double>());
      fold += s["fold_ms"].get<double>();
    }
    double round = j["round_ms"].get<double>();
    f["train (slowest silo)"].push_back(train);
    f["upload (silo + server)"].push_back(upload + j["server_upload_ms"].get<double>());
    // Each hop on its own: against the floor, which request is slow in a run.
    f["  silo upload (slowest)"].push_back(upload);
    f["  server upload"].push_back(j["server_upload_ms"].get<double>());
    f["  silo download (slowest)"].push_back(silo_get);
    f["  server download (slowest)"].push_back(server_get);
    f["notify (both MQTT hops)"].push_back(notify);
    f["download (silo + server)"].push_back(download);
    f["aggregate (fold + report)"].push_back(fold + j["aggregate_ms"].get<double>());
    if (j.contains("evaluate_ms"))
      f["evaluate (rounds that test)"].push_back(j["evaluate_ms"].get<double>());
    f["round"].push_back(round);
    f["overhead = round - train"].push_back(round - train - j.value("evaluate_ms", 0.0));
  }
  return f;
}

// The floor of the S3 path: the same store client and server, no protocol. Medians of single
// PUT, GET and DELETE requests of a blob the seed model's size, and the time to write, read
// and hash the same bytes in memory.
struct S3Floor {
  double put_ms, get_ms, delete_ms, local_ms;
  // Two clients at once, as both silos fetch and upload in the same moment: until both are done.
  double pair_put_ms, pair_get_ms;
};

// Median time for two clients, each with its own connection, to finish one request each when
// they start together.
double pair_median(const fs::path& s3_yaml, size_t bytes, int repeats, bool get) {
  comm::S3Store a(comm::load_s3_options(s3_yaml.string())),
      b(comm::load_s3_options(s3_yaml.string()));
  std::string blob(bytes, '\x5a');
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    std::string ka = fmt::format("floor/pair_a_{}", i), kb = fmt::format("floor/pair_b_{}", i);
    if (get) {
      a.put(ka, blob);
      b.put(kb, blob);
    }
    std::atomic<int> ready{0};
    auto one = [&](comm::S3Store& store, const std::string& key) {
      ++ready;
      while (ready < 2) {
      }  // both threads start their request together
      if (get) {
        store.get(key);
      } else {
        store.put(key, blob);
      }
    };
    auto t0 = std::chrono::steady_clock::now();
    std::thread ta(one, std::ref(a), ka), tb(one, std::ref(b), kb);
    ta.join();
    tb.join();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    a.remove(ka);
    b.remove(kb);
  }
  return median(times);
}

S3Floor measure_s3_floor(const fs::path& s3_yaml, size_t bytes, int repeats) {
  comm::S3Store store(comm::load_s3_options(s3_yaml.string()));
  std::string blob(bytes, '\x5a');
  std::vector<double> put, get, del, local;
  auto ms = [](auto t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  for (int i = 0; i < repeats; ++i) {
    std::string key = fmt::format("floor/blob_{}", i);
    auto t0 = std::chrono::steady_clock::now();
    store.put(key, blob);
    put.push_back(ms(t0));
    t0 = std::chrono::steady_clock::now();
    auto back = store.get(key);
    get.push_back(ms(t0));
    t0 = std::chrono::steady_clock::now();
    store.remove(key);
    del.push_back(ms(t0));
    t0 = std::chrono::steady_clock::now();
    std::string copy = blob;
    auto digest = sha256_hex(copy);
    local.push_back(ms(t0));
    if (back.size() != bytes || digest.empty()) throw std::runtime_error("s3 floor: bad read");
  }
  return {median(put),
          median(get),
          median(del),
          median(local),
          pair_median(s3_yaml, bytes, repeats, /*get=*/false),
          pair_median(s3_yaml, bytes, repeats, /*get=*/true)};
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 3;
  bool dashboard_only = argc > 2 && std::string(argv[2]) == "dashboard";
  Services sv;
  sv.dir = fs::temp_directory_path() / fmt::format("fedsilo-bench-{}", ::getpid());
  fs::create_directories(sv.dir);
  sv.mqtt_port = free_loopback_port();
  std::ofstream(sv.dir / "mosquitto.conf")
      << "listener " << sv.mqtt_port << " 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n";
  std::ofstream(sv.dir / "mqtt.yaml")
      << "BROKER_HOST: 127.0.0.1\nBROKER_PORT: " << sv.mqtt_port << "\n";
  Subprocess::Options quiet;
  quiet.output_file = (sv.dir / "services.log").string();
  sv.broker = std::make_unique<Subprocess>(
      std::vector<std::string>{"mosquitto", "-c", (sv.dir / "mosquitto.conf").string()}, quiet);
  sv.s3_port = free_loopback_port();
  fs::create_directories(sv.dir / "s3");
  sv.s3 = std::make_unique<Subprocess>(
      std::vector<std::string>{
          std::string(fedsilo::build_paths::source_dir()) + "/node_modules/.bin/s3rver", "-d",
          (sv.dir / "s3").string(), "-a", "127.0.0.1", "-p", std::to_string(sv.s3_port), "-s",
          "--configure-bucket", "fedsilo"},
      quiet);

  std::ofstream(sv.dir / "s3.yaml")
      << "BUCKET_NAME: fedsilo\nCN_S3_AKI: S3RVER\nCN_S3_SAK: S3RVER\n"
      << "S3_ENDPOINT: http://127.0.0.1:" << sv.s3_port << "\n";
  if (!wait_for_port("127.0.0.1", sv.mqtt_port, 10s) ||
      !wait_for_port("127.0.0.1", sv.s3_port, 20s)) {
    fmt::print(stderr, "mosquitto or s3rver did not start\n");
    return 1;
  }
  struct Setup {
    bool s3;
    int trainers;
    bool dashboard;
  };
  std::vector<Setup> setups = {{false, 1, false}, {true, 1, false}, {false, 2, false}};
  if (dashboard_only) setups = {{false, 1, false}, {false, 1, true}};
  for (auto [s3, trainers, dashboard] : setups) {
    sv.trainers = trainers;
    sv.dashboard = dashboard;
    std::map<std::string, std::vector<double>> all;
    std::vector<double> walls;
    for (int r = 0; r < runs; ++r) {
      double wall = 0;
      auto f = one_run(
          sv, s3,
          fmt::format("{}{}{}-{}", s3 ? "s3" : "dir", trainers, dashboard ? "-dash" : "", r),
          &wall);
      walls.push_back(wall);
      for (auto& [k, v] : f) all[k].insert(all[k].end(), v.begin(), v.end());
    }
    fmt::print("\nseed config, server + 2 silos x {} trainer(s), 50 rounds, {} store, {} runs{}\n",
               trainers, s3 ? "S3 (s3rver)" : "directory", runs,
               dashboard ? ", dashboard on and read twice a second" : "");
    fmt::print("  {:<30} {:>10}\n", "per round (median)", "ms");
    for (const char* k :
         {"train (slowest silo)", "upload (silo + server)", "  silo upload (slowest)",
          "  server upload", "notify (both MQTT hops)", "download (silo + server)",
          "  silo download (slowest)", "  server download (slowest)", "aggregate (fold + report)",
          "evaluate (rounds that test)", "round", "overhead = round - train"}) {
      fmt::print("  {:<30} {:>10.3f}\n", k, median(all[k]));
    }
    fmt::print("  {:<30} {:>10.3f}  (process start to server exit)\n", "end-to-end wall (s)",
               median(walls));
    if (s3) {
      // On a round's critical path: the server's PUT of the global model, a silo's GET and PUT
      // (the silos run in parallel), the server's 2 GETs of their models and, with retention
      // 1, its 3 DELETEs of the round before's blobs.
      auto f = measure_s3_floor(sv.dir / "s3.yaml", 31 * 1024, 50);
      double floor = 2 * f.put_ms + 3 * f.get_ms + 3 * f.delete_ms;
      // The same with both silos' GETs and PUTs at once, as they are in a round.
      double pair_floor = f.put_ms + f.pair_get_ms + f.pair_put_ms + 2 * f.get_ms + 3 * f.delete_ms;
      fmt::print(
          "  S3 floor, 31 KiB, same s3rver: PUT {:.2f} ms, GET {:.2f} ms, DELETE {:.2f} ms "
          "(write + read + hash in memory: {:.3f} ms)\n"
          "  two clients at once, until both are done: PUT {:.2f} ms, GET {:.2f} ms\n"
          "  a round's critical path (2 PUT + 3 GET + 3 DELETE) at the floor: {:.2f} ms; with "
          "the silos' requests at once: {:.2f} ms\n",
          f.put_ms, f.get_ms, f.delete_ms, f.local_ms, f.pair_put_ms, f.pair_get_ms, floor,
          pair_floor);
    }
  }
  sv.broker.reset();
  sv.s3.reset();
  fs::remove_all(sv.dir);
  return 0;
}
