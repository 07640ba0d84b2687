// Model blobs: the safetensors decoder on any bytes, then the checks a received model gets
// against the expected layout (a 784 x 10 logistic regression) and for non-finite values, and
// the streaming reader, fed in odd-sized pieces, which must agree with the whole-blob decoder.
#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "core/sha256.h"
#include "fedsilo/error.h"
#include "fedsilo/state_dict.h"
#include "ml/model_blob.h"
#include "ml/model_blob_reader.h"
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
  bool whole_ok = false;
  try {
    auto model = fedsilo::decode_model(bytes, layout, "fuzzed blob");
    fedsilo::check_finite(model, "fuzzed blob");
    whole_ok = true;
  } catch (const fedsilo::Error&) {
  }
  bool stream_ok = false;
  try {
    fedsilo::BlobRef ref{"k", static_cast<int64_t>(size), fedsilo::sha256_hex(bytes)};
    uint64_t delivered = 0;
    fedsilo::ModelBlobReader reader(
        ref, layout, "fuzzed blob",
        [&](size_t, uint64_t, const char*, size_t n) { delivered += n; });
    size_t piece = 1 + (size ? data[0] % 13 : 0);
    for (size_t off = 0; off < size; off += piece)
      reader.feed(bytes.data() + off, std::min(piece, size - off));
    reader.finish();
    if (delivered != 7850 * 4) __builtin_trap();  // every tensor byte, once
    stream_ok = reader.nonfinite_tensor().empty();
  } catch (const fedsilo::Error&) {
  }
  // The decoder accepts what the reader accepts, and finds the same values finite.
  if (whole_ok != stream_ok) __builtin_trap();
  return 0;
}
