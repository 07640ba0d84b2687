#include "protocol/model_exchange.h"

#include <torch/torch.h>

#include <cstring>

#include "ml/model_blob.h"
#include "ml/model_blob_reader.h"

namespace fedsilo::cross_silo {

BlobRef put_model(comm::ObjectStore& store, const std::string& key, const StateDict& state) {
  int64_t size = encoded_model_size(state);
  std::string sha;
  store.put_stream(key, size, [&](const ByteSink& out) { sha = write_model(state, out); });
  return BlobRef{key, size, sha};
}

void check_declared_size(const BlobRef& ref, const StateDict& expected, const std::string& what) {
  int64_t limit = max_blob_size(expected);
  if (ref.size < 8 || ref.size > limit) {
    throw ProtocolError(what + ": blob " + ref.key + " is declared as " + std::to_string(ref.size) +
                        " bytes; the model's layout allows 8 to " + std::to_string(limit));
  }
}

void stream_blob(comm::ObjectStore& store, const BlobRef& ref, const std::string& what,
                 const ByteSink& consume) {
  try {
    store.get_stream(ref.key, ref.size, consume);
  } catch (const comm::TooLargeError&) {
    throw ProtocolError(what + ": blob " + ref.key + " is larger than the " +
                        std::to_string(ref.size) + " bytes its message declares");
  }
}

StateDict get_model(comm::ObjectStore& store, const BlobRef& ref, const StateDict& expected,
                    const std::string& what) {
  check_declared_size(ref, expected, what);
  StateDict out;
  out.reserve(expected.size());
  for (const auto& [name, t] : expected)
    out.emplace_back(name, torch::empty(t.sizes(), t.options().device(torch::kCPU)));
  get_model_into(store, ref, expected, what, out);
  return out;
}

void get_model_into(comm::ObjectStore& store, const BlobRef& ref, const StateDict& expected,
                    const std::string& what, StateDict& into) {
  check_declared_size(ref, expected, what);
  check_same_layout(expected, into, "receive buffer");
  ModelBlobReader reader(
      ref, expected, what, [&](size_t tensor, uint64_t offset, const char* p, size_t n) {
        std::memcpy(static_cast<char*>(into[tensor].second.data_ptr()) + offset, p, n);
      });
  stream_blob(store, ref, what, [&](const char* p, size_t n) { reader.feed(p, n); });
  reader.finish();
}

}  // namespace fedsilo::cross_silo
