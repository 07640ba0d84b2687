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

constexpr uint64_t kMaxHeader = 100 * 1024 * 1024;

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

std::string safetensors_encode(const StateDict& state,
                               const std::map<std::string, std::string>& metadata) {
  auto [h, offset] = header_of(state, metadata);
  std::string out(8 + h.size() + offset, '\0');
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  std::memcpy(&out[8], h.data(), h.size());
  char* p = &out[8 + h.size()];
  for (const auto& [name, t] : state) {
    auto c = t.detach().to(torch::kCPU).contiguous();
    size_t bytes = c.numel() * c.element_size();
    if (bytes) std::memcpy(p, c.data_ptr(), bytes);
    p += bytes;
  }
  return out;
}

StateDict safetensors_decode(const std::string& bytes,
                             std::map<std::string, std::string>* metadata) {
  auto fail = [](const std::string& why) { throw ProtocolError("safetensors: " + why); };
  if (bytes.size() < 8)
    fail("blob of " + std::to_string(bytes.size()) +
         " bytes is shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > kMaxHeader || n > bytes.size() - 8)
    fail("header length " + std::to_string(n) + " does not fit the blob");
  json header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + n, nullptr, false);
  if (header.is_discarded() || !header.is_object()) fail("header is not a JSON object");
  uint64_t data_size = bytes.size() - 8 - n;
  const char* base = bytes.data() + 8 + n;

  struct Entry {
    std::string name;
    torch::ScalarType type;
    std::vector<int64_t> shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
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
    Entry en{name, torch::kFloat32, {}, 0, 0};
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
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  uint64_t cursor = 0;
  for (const auto& en : entries) {
    if (en.begin != cursor)
      fail("tensor " + en.name + ": data overlaps another tensor or leaves a gap");
    cursor = en.end;
  }
  if (cursor != data_size)
    fail(std::to_string(data_size - cursor) + " data bytes belong to no tensor");

  StateDict out;
  for (const auto& en : entries) {
    auto t = torch::empty(en.shape, torch::TensorOptions().dtype(en.type));
    if (en.end > en.begin) std::memcpy(t.data_ptr(), base + en.begin, en.end - en.begin);
    out.emplace_back(en.name, t);
  }
  return out;
}

}  // namespace fedsilo
