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
  FetchedModel f;
  f.bytes = store.get(ref.key);
  f.state = verify_model(f.bytes, ref, expected, what);
  return f;
}

StateDict get_model(comm::ObjectStore& store, const BlobRef& ref, const StateDict& expected,
                    const std::string& what) {
  return fetch_model(store, ref, expected, what).state;
}

}  // namespace fedsilo::cross_silo
