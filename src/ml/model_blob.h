#pragma once
// A model as a blob: safetensors bytes with fedsilo's metadata, and the checks a receiver runs
// on a blob before it trusts it (size and sha256 against the message, then the header, then
// names, dtypes and shapes against the model it expects).
#include <string>

#include "core/blob_ref.h"
#include "core/byte_stream.h"
#include "fedsilo/state_dict.h"

namespace fedsilo {

// The safetensors bytes of `state` as every fedsilo party writes them.
std::string encode_model(const StateDict& state);
// The same bytes, written into `out` from the tensors' own memory; returns their sha256.
std::string write_model(const StateDict& state, const ByteSink& out);
// Their size, without encoding: a layout always encodes to the same number of bytes.
int64_t encoded_model_size(const StateDict& layout);

// Checks size and sha256 against `ref`, parses, and checks names, dtypes and shapes against
// `expected` (tensors may be stored in any order; they come back in expected's order). Throws
// ProtocolError saying which check failed; `what` names the sender.
StateDict verify_model(const std::string& bytes, const BlobRef& ref, const StateDict& expected,
                       const std::string& what);

// The most bytes a blob of `layout` may have: its encoded size plus room for another writer's
// header (metadata, key order, padding). A reference declaring more is refused unread.
int64_t max_blob_size(const StateDict& layout);

// Throws ProtocolError naming the first floating-point tensor with a NaN or infinity.
void check_finite(const StateDict& state, const std::string& what);

// Parses bytes already verified (or produced locally) against `expected`'s layout.
StateDict decode_model(const std::string& bytes, const StateDict& expected,
                       const std::string& what);

}  // namespace fedsilo
