#include "cross_silo/model_exchange.h"

#include "core/sha256.h"
#include "ml/model_blob.h"

namespace fedsilo::cross_silo {

BlobRef put_model(comm::ObjectStore& store, const std::string& key, const StateDict& state) {
  std::string bytes = encode_model(state);
  store.put(key, bytes);
  return BlobRef{key, static_cast<int64_t>(bytes.size()), sha256_hex(bytes)};
}

FetchedModel fetch_model(comm::ObjectStore& store, const BlobRef& ref, const StateDict& expected,
                         const std::string& what) {
  int64_t limit = max_blob_size(expected);
  if (ref.size < 8 || ref.size > limit) {
    throw ProtocolError(what + ": blob " + ref.key + " is declared as " + std::to_string(ref.size) +
                        " bytes; the model's layout allows 8 to " + std::to_string(limit));
  }
  FetchedModel f;
  try {
    f.bytes = store.get(ref.key, ref.size);
  } catch (const comm::TooLargeError&) {
    throw ProtocolError(what + ": blob " + ref.key + " is larger than the " +
                        std::to_string(ref.size) + " bytes its message declares");
  }
  f.state = verify_model(f.bytes, ref, expected, what);
  return f;
}

StateDict get_model(comm::ObjectStore& store, const BlobRef& ref, const StateDict& expected,
                    const std::string& what) {
  return fetch_model(store, ref, expected, what).state;
}

}  // namespace fedsilo::cross_silo
