#pragma once
// The safetensors format (https://huggingface.co/docs/safetensors): 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then
// raw little-endian tensor bytes. No code runs on load, unlike a pickle. Python's `safetensors`
// package opens what encode() writes.
#include <map>
#include <string>
#include <vector>

#include "core/byte_stream.h"
#include "fedsilo/state_dict.h"

namespace fedsilo {

std::string safetensors_encode(const StateDict& state,
                               const std::map<std::string, std::string>& metadata = {});

// The same bytes, written into `out` tensor by tensor from the tensors' own memory (a tensor off
// the CPU or not contiguous is copied first, one at a time).
void safetensors_write(const StateDict& state, const std::map<std::string, std::string>& metadata,
                       const ByteSink& out);

// The size safetensors_encode() would produce, from names, dtypes and shapes alone: a given
// layout and metadata always encode to the same number of bytes.
int64_t safetensors_encoded_size(const StateDict& state,
                                 const std::map<std::string, std::string>& metadata = {});

// Validates the whole layout (header length, JSON, dtypes, shapes, offsets in range, no holes or
// overlaps) before touching tensor bytes; throws ProtocolError saying what is wrong. Tensors come
// back in data order. `metadata` receives __metadata__ when given.
StateDict safetensors_decode(const std::string& bytes,
                             std::map<std::string, std::string>* metadata = nullptr);

// Headers longer than this are refused unread.
constexpr uint64_t kSafetensorsMaxHeader = 100 * 1024 * 1024;

// The header length in a file's first 8 bytes.
uint64_t safetensors_header_length(const char* first8);

// One tensor's place in a file, as its header declares it.
struct SafetensorsEntry {
  std::string name;
  torch::ScalarType type;
  std::vector<int64_t> shape;
  uint64_t begin, end;  // data_offsets, relative to the first byte after the header
};

// Parses the JSON header of `n` bytes and validates the layout against `data_size` bytes of
// data (dtypes, shapes, offsets, no holes or overlaps); entries come back in data order.
std::vector<SafetensorsEntry> safetensors_parse_header(
    const char* text, size_t n, uint64_t data_size,
    std::map<std::string, std::string>* metadata = nullptr);

}  // namespace fedsilo
