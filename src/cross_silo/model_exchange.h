#pragma once
// Moving a model through the object store: encode and put, or get and verify.
#include <string>

#include "comm/object_store.h"
#include "core/blob_ref.h"
#include "fedsilo/state_dict.h"

namespace fedsilo::cross_silo {

// Encodes `state` and stores it under `key`; returns the reference to put in a message.
BlobRef put_model(comm::ObjectStore& store, const std::string& key, const StateDict& state);

struct FetchedModel {
  std::string bytes;  // the verified blob, e.g. for a silo master to broadcast to its trainers
  StateDict state;
};

// Fetches `ref` and runs verify_model on it. A reference declaring more bytes than `expected`'s
// layout can need is refused before anything is read, and the read stops at the declared size.
// Throws ProtocolError (or the store's Error); `what` names the sender. Values are not checked:
// see check_finite.
FetchedModel fetch_model(comm::ObjectStore& store, const BlobRef& ref, const StateDict& expected,
                         const std::string& what);
StateDict get_model(comm::ObjectStore& store, const BlobRef& ref, const StateDict& expected,
                    const std::string& what);

}  // namespace fedsilo::cross_silo
