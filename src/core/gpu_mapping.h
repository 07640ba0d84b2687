#pragma once
// FedML's device_args.gpu_mapping_file: a YAML file of named mappings, each a map from host to
// the number of processes per GPU, e.g.
//   mapping_default:
//     host1: [2, 1]        # processes 0 and 1 on GPU 0, process 2 on GPU 1
//     host2: [0, 1]        # process 3 on host2's GPU 1
// Processes are numbered through the hosts in file order, as FedML numbers them.
#include <cstdint>
#include <string>

namespace fedsilo {

struct GpuSlot {
  std::string host;
  int64_t gpu = 0;
};

// The slot of process `index` under mapping `key` of `file`. Throws ConfigError naming the file
// and key when the file cannot be read, the key is missing, an entry is not a list of
// non-negative counts, or the mapping has fewer than index + 1 processes.
GpuSlot gpu_slot_from_mapping(const std::string& file, const std::string& key, int64_t index);

}  // namespace fedsilo
