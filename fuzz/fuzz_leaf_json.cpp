// LEAF JSON data files (users, num_samples, user_data {x, y}).
#include <torch/torch.h>

#include <cstdint>

#include "data/leaf_json_reader.h"
#include "fedsilo/error.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = fedsilo::fuzz::write_scratch("leaf/all_data.json", data, size);
  try {
    auto users = fedsilo::data::read_leaf_folder(std::filesystem::path(path).parent_path());
    for (const auto& u : users) {
      if (u.data.x.size(0) != u.data.y.size(0)) __builtin_trap();
    }
  } catch (const fedsilo::Error&) {
  }
  return 0;
}
