#pragma once
// Moving a model through an object store: safetensors bytes plus the envelope's integrity data.
#include <string>

#include "comm/message.h"
#include "comm/object_store.h"
#include "fedsilo/state_dict.h"

namespace fedsilo::comm {

std::string sha256_hex(const std::string& bytes);

// Encodes `state` and stores it under `key`; returns the reference to put in a message.
BlobRef put_model(ObjectStore& store, const std::string& key, const StateDict& state);

// Fetches `ref`, checks its size and sha256, parses it, and checks names, dtypes and shapes
// against `expected` (tensors may be stored in any order; they come back in expected's order).
// Throws ProtocolError (or the store's Error) saying which check failed; `what` names the sender.
StateDict get_model(ObjectStore& store, const BlobRef& ref, const StateDict& expected,
                    const std::string& what);

// The same checks on bytes already in hand.
StateDict verify_model(const std::string& bytes, const BlobRef& ref, const StateDict& expected,
                       const std::string& what);

}  // namespace fedsilo::comm
