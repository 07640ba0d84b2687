#pragma once
// A silo's own machine figures, sent with each round's report (docs/monitoring.md): the process's
// CPU use since the last sample, its current and peak RSS, and, where an NVIDIA driver is
// installed, the GPU's utilisation and memory (NVML, opened at run time: no build dependency,
// and a machine without it just omits the GPU figures).
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>

namespace fedsilo::monitor {

class SystemSampler {
 public:
  SystemSampler();
  ~SystemSampler();
  SystemSampler(const SystemSampler&) = delete;
  SystemSampler& operator=(const SystemSampler&) = delete;

  // {"cpu_percent", "rss_mib", "peak_rss_mib"[, "gpu_util_percent", "gpu_mem_used_mib",
  // "gpu_mem_total_mib"]}. cpu_percent is over the time since the previous call (since
  // construction for the first), 100 = one core busy.
  nlohmann::json sample();

 private:
  struct Gpu;
  std::unique_ptr<Gpu> gpu_;
  std::chrono::steady_clock::time_point last_wall_;
  double last_cpu_s_ = 0;
};

// Keeps only the figures sample() writes, each a finite number within a sane range, from what a
// silo sent: the server never trusts a peer's JSON shape. Returns an empty object when nothing
// is usable.
nlohmann::json sanitize_system_metrics(const nlohmann::json& reported);

}  // namespace fedsilo::monitor
