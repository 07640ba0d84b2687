#include "comm/model_blob.h"

#include <openssl/evp.h>

#include <map>

#include "comm/safetensors.h"
#include "fedsilo/error.h"

namespace fedsilo::comm {

std::string sha256_hex(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

BlobRef put_model(ObjectStore& store, const std::string& key, const StateDict& state) {
  std::string bytes = safetensors_encode(state, {{"format", "pt"}, {"producer", "fedsilo"}});
  store.put(key, bytes);
  return BlobRef{key, static_cast<int64_t>(bytes.size()), sha256_hex(bytes)};
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
  StateDict decoded;
  try {
    decoded = safetensors_decode(bytes);
  } catch (const ProtocolError& e) {
    throw ProtocolError(what + ": blob " + ref.key + ": " + e.what());
  }
  std::map<std::string, torch::Tensor> by_name(decoded.begin(), decoded.end());
  StateDict ordered;
  for (const auto& [name, t] : expected) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      throw ProtocolError(what + ": blob " + ref.key + " lacks tensor " + name);
    ordered.emplace_back(name, it->second);
    by_name.erase(it);
  }
  if (!by_name.empty()) {
    throw ProtocolError(what + ": blob " + ref.key + " has unexpected tensor " +
                        by_name.begin()->first);
  }
  check_same_layout(expected, ordered, what + ", blob " + ref.key);
  return ordered;
}

StateDict get_model(ObjectStore& store, const BlobRef& ref, const StateDict& expected,
                    const std::string& what) {
  return verify_model(store.get(ref.key), ref, expected, what);
}

}  // namespace fedsilo::comm
