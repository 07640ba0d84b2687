// IDX files (MNIST's format), plain or gzip-compressed: header dimensions are attacker-sized.
#include <torch/torch.h>

#include <cstdint>

#include "data/idx_reader.h"
#include "fedsilo/error.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = fedsilo::fuzz::write_scratch("data.idx", data, size);
  try {
    auto t = fedsilo::data::read_idx(path);
    if (t.numel() > 0 && t.data_ptr<uint8_t>() == nullptr) __builtin_trap();
  } catch (const fedsilo::Error&) {
  }
  return 0;
}
