#include "core/gpu_mapping.h"

#include <yaml-cpp/yaml.h>

#include "fedsilo/error.h"

namespace fedsilo {

GpuSlot gpu_slot_from_mapping(const std::string& file, const std::string& key, int64_t index) {
  auto bad = [&](const std::string& why) {
    return ConfigError("device_args.gpu_mapping_file " + file + ": " + why);
  };
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    throw bad(std::string("cannot be read as YAML: ") + e.what());
  }
  std::string name = key.empty() ? "mapping_default" : key;
  if (!root.IsMap() || !root[name] || !root[name].IsMap())
    throw bad("has no mapping '" + name + "' (device_args.gpu_mapping_key)");
  int64_t seen = 0;
  for (const auto& host : root[name]) {
    const auto& counts = host.second;
    if (!counts.IsSequence())
      throw bad("host " + host.first.Scalar() + ": expected a list of process counts per GPU");
    for (size_t gpu = 0; gpu < counts.size(); ++gpu) {
      int64_t n = 0;
      try {
        n = counts[gpu].as<int64_t>();
      } catch (const YAML::Exception&) {
        n = -1;
      }
      if (n < 0 || n > 4096)
        throw bad("host " + host.first.Scalar() + ": GPU " + std::to_string(gpu) +
                  ": a process count must be an integer from 0 to 4096");
      if (index < seen + n) return {host.first.Scalar(), static_cast<int64_t>(gpu)};
      seen += n;
    }
  }
  throw bad("mapping '" + name + "' places " + std::to_string(seen) + " processes; process " +
            std::to_string(index) + " has no GPU there");
}

}  // namespace fedsilo
