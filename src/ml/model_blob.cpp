#include "ml/model_blob.h"

#include <map>

#include "core/sha256.h"
#include "fedsilo/error.h"
#include "ml/model_blob_reader.h"
#include "ml/safetensors.h"

namespace fedsilo {
namespace {
const std::map<std::string, std::string>& blob_metadata() {
  static const std::map<std::string, std::string> m = {{"format", "pt"}, {"producer", "fedsilo"}};
  return m;
}
}  // namespace

std::string encode_model(const StateDict& state) {
  return safetensors_encode(state, blob_metadata());
}

int64_t encoded_model_size(const StateDict& layout) {
  return safetensors_encoded_size(layout, blob_metadata());
}

int64_t max_blob_size(const StateDict& layout) {
  constexpr int64_t kHeaderSlack = 64 * 1024;
  return encoded_model_size(layout) + kHeaderSlack;
}

std::string write_model(const StateDict& state, const ByteSink& out) {
  Sha256 sha;
  safetensors_write(state, blob_metadata(), [&](const char* p, size_t n) {
    sha.update(p, n);
    out(p, n);
  });
  return sha.hex();
}

void check_finite(const StateDict& state, const std::string& what) {
  for (const auto& [name, t] : state) {
    if (!t.is_floating_point()) continue;
    // Bit tests on the tensor's own memory: no temporary the size of the model.
    auto c = t.detach().to(torch::kCPU).contiguous();
    if (!all_finite(c.data_ptr(), c.numel() * c.element_size(), c.scalar_type()))
      throw ProtocolError(what + ": tensor " + name + " has NaN or infinite values");
  }
}

StateDict verify_model(const std::string& bytes, const BlobRef& ref, const StateDict& expected,
                       const std::string& what) {
  if (static_cast<int64_t>(bytes.size()) != ref.size) {
    throw ProtocolError(what + ": blob " + ref.key + " has " + std::to_string(bytes.size()) +
                        " bytes, the message says " + std::to_string(ref.size));
  }
  auto digest = sha256_hex(bytes);
  if (digest != ref.sha256) {
    throw ProtocolError(what + ": blob " + ref.key + " has sha256 " + digest +
                        ", the message says " + ref.sha256);
  }
  return decode_model(bytes, expected, what + ": blob " + ref.key);
}

StateDict decode_model(const std::string& bytes, const StateDict& expected,
                       const std::string& what) {
  StateDict decoded;
  try {
    decoded = safetensors_decode(bytes);
  } catch (const ProtocolError& e) {
    throw ProtocolError(what + ": " + e.what());
  }
  std::map<std::string, torch::Tensor> by_name(decoded.begin(), decoded.end());
  StateDict ordered;
  for (const auto& [name, t] : expected) {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw ProtocolError(what + " lacks tensor " + name);
    ordered.emplace_back(name, it->second);
    by_name.erase(it);
  }
  if (!by_name.empty())
    throw ProtocolError(what + " has unexpected tensor " + by_name.begin()->first);
  check_same_layout(expected, ordered, what);
  return ordered;
}

}  // namespace fedsilo
