#include "monitor/system_metrics.h"

#include <dlfcn.h>
#include <sys/resource.h>

#include <cmath>
#include <fstream>
#include <string>

namespace fedsilo::monitor {

namespace {

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// VmRSS and VmHWM from /proc/self/status, in MiB (0 where the kernel does not say).
std::pair<double, double> rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string key;
  double rss = 0, hwm = 0;
  while (in >> key) {
    if (key == "VmRSS:") in >> rss;
    if (key == "VmHWM:") in >> hwm;
    in.ignore(1 << 12, '\n');
  }
  return {rss / 1024.0, hwm / 1024.0};
}

}  // namespace

// The few NVML entry points used, declared as the driver's nvml.h does: NVML is part of the
// driver, not of any package this project may depend on, so it is opened with dlopen.
struct SystemSampler::Gpu {
  struct Utilization {
    unsigned gpu, memory;
  };
  struct Memory {
    unsigned long long total, free, used;
  };
  using Device = void*;
  void* lib = nullptr;
  int (*init)() = nullptr;
  int (*shutdown)() = nullptr;
  int (*handle_by_index)(unsigned, Device*) = nullptr;
  int (*utilization)(Device, Utilization*) = nullptr;
  int (*memory)(Device, Memory*) = nullptr;
  Device device = nullptr;

  static std::unique_ptr<Gpu> open() {
    auto g = std::make_unique<Gpu>();
    g->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!g->lib) return nullptr;
    auto sym = [&](const char* name) { return dlsym(g->lib, name); };
    g->init = reinterpret_cast<int (*)()>(sym("nvmlInit_v2"));
    g->shutdown = reinterpret_cast<int (*)()>(sym("nvmlShutdown"));
    g->handle_by_index =
        reinterpret_cast<int (*)(unsigned, Device*)>(sym("nvmlDeviceGetHandleByIndex_v2"));
    g->utilization =
        reinterpret_cast<int (*)(Device, Utilization*)>(sym("nvmlDeviceGetUtilizationRates"));
    g->memory = reinterpret_cast<int (*)(Device, Memory*)>(sym("nvmlDeviceGetMemoryInfo"));
    if (!g->init || !g->shutdown || !g->handle_by_index || !g->utilization || !g->memory ||
        g->init() != 0) {
      dlclose(g->lib);
      return nullptr;
    }
    if (g->handle_by_index(0, &g->device) != 0) {
      g->shutdown();
      dlclose(g->lib);
      return nullptr;
    }
    return g;
  }
  ~Gpu() {
    if (lib) {
      shutdown();
      dlclose(lib);
    }
  }
};

SystemSampler::SystemSampler()
    : gpu_(Gpu::open()),
      last_wall_(std::chrono::steady_clock::now()),
      last_cpu_s_(process_cpu_seconds()) {}

SystemSampler::~SystemSampler() = default;

nlohmann::json SystemSampler::sample() {
  auto now = std::chrono::steady_clock::now();
  double cpu = process_cpu_seconds();
  double wall = std::chrono::duration<double>(now - last_wall_).count();
  double percent = wall > 0 ? 100.0 * (cpu - last_cpu_s_) / wall : 0.0;
  last_wall_ = now;
  last_cpu_s_ = cpu;
  auto [rss, peak] = rss_mib();
  nlohmann::json j = {{"cpu_percent", std::round(percent * 10) / 10},
                      {"rss_mib", std::round(rss * 10) / 10},
                      {"peak_rss_mib", std::round(peak * 10) / 10}};
  if (gpu_) {
    Gpu::Utilization u{};
    Gpu::Memory m{};
    if (gpu_->utilization(gpu_->device, &u) == 0) j["gpu_util_percent"] = u.gpu;
    if (gpu_->memory(gpu_->device, &m) == 0) {
      j["gpu_mem_used_mib"] = static_cast<double>(m.used) / (1 << 20);
      j["gpu_mem_total_mib"] = static_cast<double>(m.total) / (1 << 20);
    }
  }
  return j;
}

nlohmann::json sanitize_system_metrics(const nlohmann::json& reported) {
  nlohmann::json out = nlohmann::json::object();
  if (!reported.is_object()) return out;
  // Bounds: a few thousand cores, a petabyte of memory.
  static const std::pair<const char*, double> kKeys[] = {
      {"cpu_percent", 1e6},      {"rss_mib", 1e9},          {"peak_rss_mib", 1e9},
      {"gpu_util_percent", 100}, {"gpu_mem_used_mib", 1e9}, {"gpu_mem_total_mib", 1e9}};
  for (const auto& [key, hi] : kKeys) {
    auto it = reported.find(key);
    if (it == reported.end() || !it->is_number()) continue;
    double v = it->get<double>();
    if (std::isfinite(v) && v >= 0 && v <= hi) out[key] = v;
  }
  return out;
}

}  // namespace fedsilo::monitor
