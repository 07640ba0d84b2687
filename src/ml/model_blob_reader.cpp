#include "ml/model_blob_reader.h"

#include <cstring>
#include <map>

#include "fedsilo/error.h"

namespace fedsilo {
namespace {

template <typename Bits>
bool none_all_ones(const void* data, size_t n, Bits exponent) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i + sizeof(Bits) <= n; i += sizeof(Bits)) {
    Bits v;
    std::memcpy(&v, p + i, sizeof(Bits));
    if ((v & exponent) == exponent) return false;
  }
  return true;
}

}  // namespace

bool all_finite(const void* data, size_t n, torch::ScalarType type) {
  // A value is NaN or infinite exactly when its exponent bits are all ones.
  switch (type) {
    case torch::kFloat32:
      return none_all_ones<uint32_t>(data, n, 0x7f800000u);
    case torch::kFloat64:
      return none_all_ones<uint64_t>(data, n, 0x7ff0000000000000ull);
    case torch::kFloat16:
      return none_all_ones<uint16_t>(data, n, 0x7c00);
    case torch::kBFloat16:
      return none_all_ones<uint16_t>(data, n, 0x7f80);
    default:
      return true;
  }
}

ModelBlobReader::ModelBlobReader(const BlobRef& ref, const StateDict& expected, std::string what,
                                 TensorBytes on_bytes)
    : ref_(ref),
      expected_(expected),
      what_(std::move(what) + ": blob " + ref.key),
      on_bytes_(std::move(on_bytes)),
      offsets_(expected.size(), 0) {}

void ModelBlobReader::feed(const char* p, size_t n) {
  received_ += static_cast<int64_t>(n);
  if (received_ > ref_.size) {
    throw ProtocolError(what_ + " is larger than the " + std::to_string(ref_.size) +
                        " bytes its message declares");
  }
  sha_.update(p, n);
  while (n > 0 && !header_done_) {
    size_t want = (head_.size() < 8 ? 8 : header_end_) - head_.size();
    size_t take = std::min(want, n);
    head_.append(p, take);
    p += take;
    n -= take;
    if (head_.size() == 8 && header_end_ == 0) {
      uint64_t len = safetensors_header_length(head_.data());
      if (len > kSafetensorsMaxHeader || len > static_cast<uint64_t>(ref_.size) - 8)
        throw ProtocolError(what_ + ": safetensors: header length " + std::to_string(len) +
                            " does not fit the blob");
      header_end_ = 8 + len;
      head_.reserve(header_end_);
    }
    if (header_end_ && head_.size() == header_end_) take_header();
  }
  if (n > 0) take_data(p, n);
}

void ModelBlobReader::take_header() {
  std::vector<SafetensorsEntry> entries;
  try {
    entries = safetensors_parse_header(head_.data() + 8, header_end_ - 8,
                                       static_cast<uint64_t>(ref_.size) - header_end_);
  } catch (const ProtocolError& e) {
    throw ProtocolError(what_ + ": " + e.what());
  }
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < expected_.size(); ++i) index[expected_[i].first] = i;
  std::vector<bool> seen(expected_.size(), false);
  for (const auto& e : entries) {
    auto it = index.find(e.name);
    if (it == index.end()) throw ProtocolError(what_ + " has unexpected tensor " + e.name);
    const auto& want = expected_[it->second].second;
    if (e.type != want.scalar_type()) {
      throw ProtocolError(what_ + ": tensor " + e.name + " has dtype " + c10::toString(e.type) +
                          ", expected " + c10::toString(want.scalar_type()));
    }
    if (e.shape != want.sizes().vec()) {
      throw ProtocolError(what_ + ": tensor " + e.name + " has shape " +
                          c10::str(c10::IntArrayRef(e.shape)) + ", expected " +
                          c10::str(want.sizes()));
    }
    seen[it->second] = true;
    offsets_[it->second] = header_end_ + e.begin;
    if (e.end > e.begin)
      slots_.push_back({it->second, header_end_ + e.begin, header_end_ + e.end,
                        c10::elementSize(e.type), e.type});
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) throw ProtocolError(what_ + " lacks tensor " + expected_[i].first);
  }
  header_done_ = true;
  pos_ = header_end_;
  head_ = std::string();  // the header's memory goes back before the data comes
}

void ModelBlobReader::take_data(const char* p, size_t n) {
  while (n > 0) {
    const Slot& s = slots_.at(slot_);  // the sizes above guarantee a slot for every data byte
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, s.end - pos_));
    const char* q = p;
    size_t left = take;
    uint64_t at = pos_ - s.begin;  // tensor offset of q[0]
    if (carry_len_ > 0) {
      size_t fill = std::min(left, s.element - carry_len_);
      std::memcpy(carry_ + carry_len_, q, fill);
      carry_len_ += fill;
      q += fill;
      left -= fill;
      at += fill;
      if (carry_len_ == s.element) {
        deliver(s, at - s.element, carry_, s.element);
        carry_len_ = 0;
      }
    }
    size_t whole = left / s.element * s.element;
    if (whole) deliver(s, at, q, whole);
    std::memcpy(carry_, q + whole, left - whole);
    carry_len_ += left - whole;
    pos_ += take;
    p += take;
    n -= take;
    if (pos_ == s.end) ++slot_;
  }
}

void ModelBlobReader::deliver(const Slot& s, uint64_t offset, const char* p, size_t n) {
  if (nonfinite_.empty() && !all_finite(p, n, s.type)) nonfinite_ = expected_[s.tensor].first;
  if (on_bytes_) on_bytes_(s.tensor, offset, p, n);
}

void ModelBlobReader::finish() {
  if (received_ != ref_.size) {
    throw ProtocolError(what_ + " has " + std::to_string(received_) + " bytes, the message says " +
                        std::to_string(ref_.size));
  }
  auto digest = sha_.hex();
  if (digest != ref_.sha256) {
    throw ProtocolError(what_ + " has sha256 " + digest + ", the message says " + ref_.sha256);
  }
  if (!header_done_) throw ProtocolError(what_ + ": safetensors: the header is incomplete");
}

}  // namespace fedsilo
