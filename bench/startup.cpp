// Start-up of the seed topology (server + 2 silos x 2 trainers, mosquitto on loopback, the
// directory store, the seed's config) on both data formats: the IDX files and FedML's LEAF JSON
// layout (1,000 users, written here from the same digits). Per run it watches every process's
// output for the phase markers and samples every process's peak RSS (VmHWM) until it exits.
// Prints medians over runs: the time from launch to each phase, server start -> both silos
// online, server start -> exit, and each process's peak RSS and CPU time with their sums.
//
//   build/bench/bench_startup [runs=5] [--keep] [--ab NAME=VALUE]
//                                                   (needs scripts/get-data.sh and setup.sh)
// --ab alternates runs without and with NAME=VALUE in every process's environment and prints
// both medians side by side: on a shared VM whose speed drifts by tens of percent over minutes,
// only runs interleaved like this compare two settings fairly (e.g.
// --ab GLIBC_TUNABLES=glibc.malloc.hugetlb=0).
#include <fmt/format.h>
#include <torch/torch.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "build_paths.h"
#include "core/subprocess.h"
#include "fedsilo/dataset.h"

namespace fs = std::filesystem;
using namespace fedsilo;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// FedML's LEAF layout of the same digits: user u holds every 1000th sample from u, pixels as
// floats in [0, 1] like FedML's files.
void write_leaf(const TensorData& d, const fs::path& file, int users) {
  fs::create_directories(file.parent_path());
  nlohmann::json doc = {{"users", nlohmann::json::array()},
                        {"num_samples", nlohmann::json::array()},
                        {"user_data", nlohmann::json::object()}};
  auto x = d.x.reshape({d.size(), -1}).contiguous();
  int64_t features = x.size(1);
  const uint8_t* px = x.data_ptr<uint8_t>();
  const int64_t* py = d.y.data_ptr<int64_t>();
  for (int u = 0; u < users; ++u) {
    std::string name = fmt::format("f_{:05d}", u);
    nlohmann::json xs = nlohmann::json::array(), ys = nlohmann::json::array();
    for (int64_t i = u; i < d.size(); i += users) {
      std::vector<double> row(features);
      for (int64_t j = 0; j < features; ++j) row[j] = px[i * features + j] / 255.0;
      xs.push_back(row);
      ys.push_back(py[i]);
    }
    doc["users"].push_back(name);
    doc["num_samples"].push_back(ys.size());
    doc["user_data"][name] = {{"x", xs}, {"y", ys}};
  }
  std::ofstream(file) << doc.dump();
}

// Every process under `roots`, with its parent chain resolved to a label.
std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/task/{}/children", pid, pid));
  std::vector<pid_t> out;
  pid_t c;
  while (in >> c) out.push_back(c);
  return out;
}

int64_t peak_rss_kib(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// CPU seconds (user + system) the process has used so far.
double cpu_s(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;  // state .. cmajflt
  double utime = 0, stime = 0;
  fields >> utime >> stime;
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The program a process runs now: a child the benchmark or a launcher forked is a copy of its
// parent until it execs.
std::string exe_of(pid_t pid) {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  return ec ? "" : p.string();
}

struct Phase {
  const char* name;
  const char* marker;  // first line containing it ends the phase
};
const Phase kServerPhases[] = {{"data loaded", "hetero partition"},
                               {"broker connected", "mqtt: connected"},
                               {"both silos online", "is ONLINE (2/2)"},
                               {"first round done", "progress: round 1/"}};
const Phase kSiloPhases[] = {{"data loaded", "hetero partition"},
                             {"process group joined", "joined silo"},
                             {"broker connected", "mqtt: connected"}};

struct RunFigures {
  std::map<std::string, double> phase_s;   // "server: data loaded" -> seconds from launch
  std::map<std::string, double> peak_mib;  // process label -> MiB
  std::map<std::string, double> cpu_s;     // process label -> CPU seconds, last sample
  double online_s = 0, exit_s = 0;
};

RunFigures one_run(const fs::path& dir, int mqtt_port, const std::string& data_dir,
                   const std::string& run_id, const std::map<std::string, std::string>& env) {
  std::string example =
      std::string(fedsilo::build_paths::source_dir()) +
      "/examples/cross_silo/mqtt_s3_fedavg_hierarchical_mnist_lr/one_line/config/fedml_config.yaml";
  std::vector<std::string> sets = {
      "comm_args.mqtt_config_path=" + (dir / "mqtt.yaml").string(),
      "tracking_args.log_file_dir=" + (dir / "log").string(),
      "comm_args.object_store=file://" + (dir / ("blobs-" + run_id)).string(),
      "data_args.data_cache_dir=" + data_dir};
  std::map<std::string, fs::path> outputs;
  auto launch = [&](const std::string& role, int rank) {
    std::vector<std::string> argv = {
        fedsilo::build_paths::cli(), role,       "--cf", example, "--rank",
        std::to_string(rank),        "--run_id", run_id};
    for (auto& s : sets) argv.insert(argv.end(), {"--set", s});
    argv.insert(argv.end(), {"--set", "client_silo_args.pg_master_port=" +
                                          std::to_string(free_loopback_port())});
    Subprocess::Options o;
    std::string label = role == "server" ? "server" : fmt::format("silo {}", rank);
    outputs[label] = dir / (run_id + "-" + label + ".out");
    o.output_file = outputs[label].string();
    o.env = env;
    return std::make_unique<Subprocess>(argv, o);
  };
  RunFigures f;
  auto t0 = Clock::now();
  auto server = launch("server", 0);
  auto silo1 = launch("client", 1), silo2 = launch("client", 2);
  auto since = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  std::map<pid_t, std::string> labels;
  std::map<std::string, int64_t> peak;
  const std::string cli = fs::canonical(fedsilo::build_paths::cli()).string();
  std::map<int, int> trainers_seen;         // per silo
  std::map<std::string, std::string> seen;  // output read so far, per process
  while (!server->poll()) {
    // Processes: the server, each silo's launcher, and the launcher's trainers.
    labels[server->pid()] = "server";
    for (auto [p, k] : {std::pair{silo1->pid(), 1}, std::pair{silo2->pid(), 2}}) {
      // Sampled once it runs the lean launcher, not while it is still the benchmark's fork.
      if (exe_of(p) == cli) labels[p] = fmt::format("silo {} launcher", k);
      for (pid_t c : children_of(p)) {
        // Trainers are numbered as they appear: the first one the launcher starts, then the
        // siblings it forks (adopted by the launcher). A child still a copy of its launcher is
        // skipped until it runs a trainer.
        if (labels.count(c) || exe_of(c).empty() || exe_of(c) == cli) continue;
        labels[c] = fmt::format("silo {} trainer {}", k, trainers_seen[k]++);
      }
    }
    for (auto& [p, label] : labels) {
      int64_t kib = peak_rss_kib(p);
      if (kib > peak[label]) peak[label] = kib;
      double cpu = cpu_s(p);
      if (cpu > f.cpu_s[label]) f.cpu_s[label] = cpu;
    }
    for (auto& [label, path] : outputs) {
      // Only the bytes added since the last look: the watcher must not eat the CPU it measures.
      std::ifstream in(path, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(seen[label].size()));
      std::string more((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      // Keep a tail so a marker split across two reads is still found.
      auto& text = seen[label];
      text += more;
      const auto* phases = label == "server" ? kServerPhases : kSiloPhases;
      size_t n = label == "server" ? std::size(kServerPhases) : std::size(kSiloPhases);
      for (size_t i = 0; i < n; ++i) {
        auto key = label + ": " + phases[i].name;
        if (!f.phase_s.count(key) && text.find(phases[i].marker) != std::string::npos)
          f.phase_s[key] = since();
      }
    }
    if (since() > 300)
      throw std::runtime_error("server still running after 300 s; see " + dir.string());
    std::this_thread::sleep_for(10ms);
  }
  f.exit_s = since();
  f.online_s = f.phase_s["server: both silos online"];
  if (*server->poll() != 0) throw std::runtime_error("server failed; see " + dir.string());
  silo1->wait_for(30s);
  silo2->wait_for(30s);
  for (auto& [label, kib] : peak) f.peak_mib[label] = kib / 1024.0;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  bool keep = false;  // leave the folder for a look
  std::map<std::string, std::string> ab_env;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--keep") {
      keep = true;
    } else if (a == "--ab" && i + 1 < argc &&
               std::string(argv[i + 1]).find('=') != std::string::npos) {
      std::string kv = argv[++i];
      ab_env[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
    } else if (std::atoi(a.c_str()) > 0) {
      runs = std::atoi(a.c_str());
    } else {
      fmt::print(stderr, "usage: bench_startup [runs=5] [--keep] [--ab NAME=VALUE]\n");
      return 2;
    }
  }
  std::vector<std::map<std::string, std::string>> settings = {{}};
  if (!ab_env.empty()) settings.push_back(ab_env);
  fs::path dir = fs::temp_directory_path() / fmt::format("fedsilo-startup-{}", ::getpid());
  fs::create_directories(dir);
  int mqtt_port = free_loopback_port();
  std::ofstream(dir / "mosquitto.conf")
      << "listener " << mqtt_port << " 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n";
  std::ofstream(dir / "mqtt.yaml") << "BROKER_HOST: 127.0.0.1\nBROKER_PORT: " << mqtt_port << "\n";
  Subprocess::Options quiet;
  quiet.output_file = (dir / "mosquitto.log").string();
  Subprocess broker({"mosquitto", "-c", (dir / "mosquitto.conf").string()}, quiet);
  if (!wait_for_port("127.0.0.1", mqtt_port, 10s)) {
    fmt::print(stderr, "mosquitto did not start\n");
    return 1;
  }
  std::string idx = std::string(fedsilo::build_paths::source_dir()) + "/data";
  auto mnist = fs::path(idx) / "MNIST";
  auto idx_pair = [&](const std::string& images, const std::string& labels) {
    return TensorData{data::read_idx((mnist / (images + ".gz")).string()),
                      data::read_idx((mnist / (labels + ".gz")).string()).to(torch::kInt64)};
  };
  auto train = idx_pair("train-images-idx3-ubyte", "train-labels-idx1-ubyte");
  auto test = idx_pair("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
  auto leaf = dir / "leaf";
  write_leaf(train, leaf / "MNIST/train/all_data.json", 1000);
  write_leaf(test, leaf / "MNIST/test/all_data.json", 1000);
  double leaf_mb = (fs::file_size(leaf / "MNIST/train/all_data.json") +
                    fs::file_size(leaf / "MNIST/test/all_data.json")) /
                   1e6;

  for (auto [name, data_dir] : {std::pair{"IDX", idx}, std::pair{"LEAF JSON", leaf.string()}}) {
    // all[k]: the runs of setting k. Run 0 of LEAF parses the JSON and writes the cache; run 0
    // of each setting is reported on its own.
    std::vector<std::vector<RunFigures>> all(settings.size());
    for (int r = 0; r <= runs; ++r) {
      for (size_t k = 0; k < settings.size(); ++k)
        all[k].push_back(
            one_run(dir, mqtt_port, data_dir, fmt::format("{}-{}-{}", name[0], k, r), settings[k]));
    }
    fmt::print("\nseed topology, server + 2 silos x 2 trainers, {} data{}, median of {} runs{}\n",
               name, std::string(name) == "IDX" ? "" : fmt::format(" ({:.1f} MB of JSON)", leaf_mb),
               runs, settings.size() > 1 ? ", runs of both settings interleaved" : "");
    auto med = [&](size_t k, auto get) {
      std::vector<double> v;
      for (size_t i = 1; i < all[k].size(); ++i) v.push_back(get(all[k][i]));
      return median(v);
    };
    // One column per setting.
    auto row = [&](const std::string& label, auto get, const char* spec) {
      std::string line = fmt::format("  {:<40}", label);
      for (size_t k = 0; k < settings.size(); ++k)
        line += fmt::format(fmt::runtime(spec), med(k, get));
      fmt::print("{}\n", line);
    };
    std::string header = fmt::format("  {:<40}", "phase (s from launch)");
    for (size_t k = 0; k < settings.size(); ++k)
      header += fmt::format(" {:>9}", k == 0 ? "median" : "with --ab");
    fmt::print("{}\n", header);
    for (const auto& [key, s] : all[0][1].phase_s)
      row(
          key, [&](const RunFigures& f) { return f.phase_s.count(key) ? f.phase_s.at(key) : 0.0; },
          " {:>9.3f}");
    row(
        "server start -> both silos online", [](const RunFigures& f) { return f.online_s; },
        " {:>9.3f}");
    row(
        "server start -> exit (50 rounds)", [](const RunFigures& f) { return f.exit_s; },
        " {:>9.3f}");
    fmt::print("  first run: online {:.3f} s, exit {:.3f} s\n", all[0][0].online_s,
               all[0][0].exit_s);
    // CPU is sampled every 10 ms until the process ends: the last few ms of each are missed.
    std::string cols = fmt::format("  {:<40}", "per process, median");
    for (size_t k = 0; k < settings.size(); ++k)
      cols += fmt::format(" {:>9} {:>9}", "peak MiB", "CPU s");
    fmt::print("{}\n", cols);
    std::vector<double> sum(settings.size()), cpu_sum(settings.size());
    for (const auto& [label, mib] : all[0][1].peak_mib) {
      std::string line = fmt::format("  {:<40}", label);
      for (size_t k = 0; k < settings.size(); ++k) {
        auto of = [&](auto member) {
          return med(k, [&](const RunFigures& f) {
            return (f.*member).count(label) ? (f.*member).at(label) : 0.0;
          });
        };
        double m = of(&RunFigures::peak_mib), cpu = of(&RunFigures::cpu_s);
        sum[k] += m;
        cpu_sum[k] += cpu;
        line += fmt::format(" {:>9.1f} {:>9.2f}", m, cpu);
      }
      fmt::print("{}\n", line);
    }
    std::string total = fmt::format("  {:<40}", "sum");
    for (size_t k = 0; k < settings.size(); ++k)
      total += fmt::format(" {:>9.1f} {:>9.2f}", sum[k], cpu_sum[k]);
    fmt::print("{}\n", total);
  }
  if (keep) {
    fmt::print("\nkept {}\n", dir.string());
  } else {
    fs::remove_all(dir);
  }
  return 0;
}
