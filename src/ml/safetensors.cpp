#include "ml/safetensors.h"

#include <torch/torch.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "fedsilo/error.h"

namespace fedsilo {
using nlohmann::json;

namespace {

struct DType {
  const char* name;
  torch::ScalarType type;
};
constexpr DType kDTypes[] = {
    {"F64", torch::kFloat64},   {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
    {"BF16", torch::kBFloat16}, {"I64", torch::kInt64},   {"I32", torch::kInt32},
    {"I16", torch::kInt16},     {"I8", torch::kInt8},     {"U8", torch::kUInt8},
    {"BOOL", torch::kBool},
};

const char* dtype_name(torch::ScalarType t) {
  for (const auto& d : kDTypes) {
    if (d.type == t) return d.name;
  }
  throw Error(std::string("safetensors: dtype ") + c10::toString(t) + " cannot be stored");
}

// The padded JSON header and the size of the data that follows it.
std::pair<std::string, uint64_t> header_of(const StateDict& state,
                                           const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : state) {
    uint64_t bytes = t.numel() * t.element_size();
    header[name] = {{"dtype", dtype_name(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // the spec pads the header with spaces to 8 bytes
  return {h, offset};
}

}  // namespace

int64_t safetensors_encoded_size(const StateDict& state,
                                 const std::map<std::string, std::string>& metadata) {
  auto [h, data] = header_of(state, metadata);
  return static_cast<int64_t>(8 + h.size() + data);
}

void safetensors_write(const StateDict& state, const std::map<std::string, std::string>& metadata,
                       const ByteSink& out) {
  auto [h, offset] = header_of(state, metadata);
  char len[8];
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out(len, 8);
  out(h.data(), h.size());
  for (const auto& [name, t] : state) {
    // No copy for a CPU tensor that is contiguous already (a module's parameters are).
    auto c = t.detach().to(torch::kCPU).contiguous();
    size_t bytes = c.numel() * c.element_size();
    if (bytes) out(static_cast<const char*>(c.data_ptr()), bytes);
  }
}

std::string safetensors_encode(const StateDict& state,
                               const std::map<std::string, std::string>& metadata) {
  std::string out;
  out.reserve(static_cast<size_t>(safetensors_encoded_size(state, metadata)));
  safetensors_write(state, metadata, [&](const char* p, size_t n) { out.append(p, n); });
  return out;
}

std::vector<SafetensorsEntry> safetensors_parse_header(
    const char* text, size_t n, uint64_t data_size, std::map<std::string, std::string>* metadata) {
  auto fail = [](const std::string& why) { throw ProtocolError("safetensors: " + why); };
  json header = json::parse(text, text + n, nullptr, false);
  if (header.is_discarded() || !header.is_object()) fail("header is not a JSON object");
  std::vector<SafetensorsEntry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) fail("__metadata__ must be an object of strings");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) fail("__metadata__ value " + m.key() + " is not a string");
        if (metadata) (*metadata)[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const auto& e = *it;
    const std::string& name = it.key();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") ||
        !e.contains("data_offsets") || !e["dtype"].is_string() || !e["shape"].is_array() ||
        !e["data_offsets"].is_array() || e["data_offsets"].size() != 2) {
      fail("tensor " + name + ": needs dtype, shape and data_offsets [begin, end]");
    }
    SafetensorsEntry en{name, torch::kFloat32, {}, 0, 0};
    bool known = false;
    for (const auto& d : kDTypes) {
      if (e["dtype"] == d.name) {
        en.type = d.type;
        known = true;
      }
    }
    if (!known) fail("tensor " + name + ": unsupported dtype " + e["dtype"].dump());
    uint64_t numel = 1;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned())
        fail("tensor " + name + ": shape must hold non-negative integers");
      uint64_t v = d.get<uint64_t>();
      if (v > (uint64_t(1) << 40) || (v && numel > (uint64_t(1) << 40) / v))
        fail("tensor " + name + ": shape too large");
      numel *= v;
      en.shape.push_back(static_cast<int64_t>(v));
    }
    for (const auto& o : e["data_offsets"]) {
      if (!o.is_number_unsigned())
        fail("tensor " + name + ": data_offsets must be non-negative integers");
    }
    en.begin = e["data_offsets"][0].get<uint64_t>();
    en.end = e["data_offsets"][1].get<uint64_t>();
    if (en.begin > en.end || en.end > data_size) {
      fail("tensor " + name + ": data_offsets [" + std::to_string(en.begin) + ", " +
           std::to_string(en.end) + "] outside the " + std::to_string(data_size) + " data bytes");
    }
    uint64_t expect = numel * c10::elementSize(en.type);
    if (en.end - en.begin != expect) {
      fail("tensor " + name + ": " + std::to_string(en.end - en.begin) +
           " bytes for a shape that needs " + std::to_string(expect));
    }
    entries.push_back(std::move(en));
  }
  std::sort(entries.begin(), entries.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) { return a.begin < b.begin; });
  uint64_t cursor = 0;
  for (const auto& en : entries) {
    if (en.begin != cursor)
      fail("tensor " + en.name + ": data overlaps another tensor or leaves a gap");
    cursor = en.end;
  }
  if (cursor != data_size)
    fail(std::to_string(data_size - cursor) + " data bytes belong to no tensor");
  return entries;
}

uint64_t safetensors_header_length(const char* first8) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(first8[i])) << (8 * i);
  return n;
}

StateDict safetensors_decode(const std::string& bytes,
                             std::map<std::string, std::string>* metadata) {
  auto fail = [](const std::string& why) { throw ProtocolError("safetensors: " + why); };
  if (bytes.size() < 8)
    fail("blob of " + std::to_string(bytes.size()) +
         " bytes is shorter than the 8-byte header length");
  uint64_t n = safetensors_header_length(bytes.data());
  if (n > kSafetensorsMaxHeader || n > bytes.size() - 8)
    fail("header length " + std::to_string(n) + " does not fit the blob");
  uint64_t data_size = bytes.size() - 8 - n;
  const char* base = bytes.data() + 8 + n;
  auto entries = safetensors_parse_header(bytes.data() + 8, n, data_size, metadata);

  StateDict out;
  for (const auto& en : entries) {
    auto t = torch::empty(en.shape, torch::TensorOptions().dtype(en.type));
    if (en.end > en.begin) std::memcpy(t.data_ptr(), base + en.begin, en.end - en.begin);
    out.emplace_back(en.name, t);
  }
  return out;
}

}  // namespace fedsilo
