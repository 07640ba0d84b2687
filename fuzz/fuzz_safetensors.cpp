// Model blobs: the safetensors decoder on any bytes, then the checks a received model gets
// against the expected layout (a 784 x 10 logistic regression) and for non-finite values.
#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "fedsilo/error.h"
#include "fedsilo/state_dict.h"
#include "ml/model_blob.h"
#include "ml/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fedsilo::StateDict layout = {{"linear.weight", torch::zeros({10, 784})},
                                            {"linear.bias", torch::zeros({10})}};
  std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    std::map<std::string, std::string> metadata;
    auto state = fedsilo::safetensors_decode(bytes, &metadata);
    // What decodes re-encodes to a blob that decodes and encodes to the same bytes (bytes, not
    // tensor equality: NaN != NaN).
    auto encoded = fedsilo::safetensors_encode(state, metadata);
    std::map<std::string, std::string> metadata_again;
    auto again = fedsilo::safetensors_decode(encoded, &metadata_again);
    if (fedsilo::safetensors_encode(again, metadata_again) != encoded) __builtin_trap();
  } catch (const fedsilo::Error&) {
  }
  try {
    auto model = fedsilo::decode_model(bytes, layout, "fuzzed blob");
    fedsilo::check_finite(model, "fuzzed blob");
  } catch (const fedsilo::Error&) {
  }
  return 0;
}
