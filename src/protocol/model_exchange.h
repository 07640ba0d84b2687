#pragma once
// Moving a model through the object store as a stream: encoded from the tensors' memory into the
// store, and read from the store into fresh tensors, verified as the bytes pass. Neither side
// ever holds the blob itself, so a party needs its model plus the copy it receives.
#include <string>

#include "comm/object_store.h"
#include "core/blob_ref.h"
#include "fedsilo/state_dict.h"

namespace fedsilo::cross_silo {

// Streams `state`'s blob into the store under `key`, hashing it on the way; returns the
// reference to put in a message.
BlobRef put_model(comm::ObjectStore& store, const std::string& key, const StateDict& state);

// Reads `ref` into fresh tensors of `expected`'s layout, with verify_model's checks. A reference
// declaring more bytes than the layout can need is refused before anything is read, and the
// read stops at the declared size. Throws ProtocolError (or the store's Error); `what` names the
// sender. Values are not checked: see check_finite.
StateDict get_model(comm::ObjectStore& store, const BlobRef& ref, const StateDict& expected,
                    const std::string& what);

// The same into `into`'s tensors (expected's layout, on the CPU, contiguous), which keep their
// memory from round to round: on this VM a fresh 512 MiB buffer costs 1.6 s of page faults.
// `into` holds garbage when this throws, so it is a receive buffer, never the model itself.
void get_model_into(comm::ObjectStore& store, const BlobRef& ref, const StateDict& expected,
                    const std::string& what, StateDict& into);

// The size check get_model runs before reading.
void check_declared_size(const BlobRef& ref, const StateDict& expected, const std::string& what);

// Runs the store's streaming read of `ref` through `consume`, turning an object larger than
// declared into ProtocolError.
void stream_blob(comm::ObjectStore& store, const BlobRef& ref, const std::string& what,
                 const ByteSink& consume);

}  // namespace fedsilo::cross_silo
