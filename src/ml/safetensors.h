#pragma once
// The safetensors format (https://huggingface.co/docs/safetensors): 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then
// raw little-endian tensor bytes. No code runs on load, unlike a pickle. Python's `safetensors`
// package opens what encode() writes.
#include <map>
#include <string>

#include "fedsilo/state_dict.h"

namespace fedsilo {

std::string safetensors_encode(const StateDict& state,
                               const std::map<std::string, std::string>& metadata = {});

// The size safetensors_encode() would produce, from names, dtypes and shapes alone: a given
// layout and metadata always encode to the same number of bytes.
int64_t safetensors_encoded_size(const StateDict& state,
                                 const std::map<std::string, std::string>& metadata = {});

// Validates the whole layout (header length, JSON, dtypes, shapes, offsets in range, no holes or
// overlaps) before touching tensor bytes; throws ProtocolError saying what is wrong. Tensors come
// back in data order. `metadata` receives __metadata__ when given.
StateDict safetensors_decode(const std::string& bytes,
                             std::map<std::string, std::string>* metadata = nullptr);

}  // namespace fedsilo
