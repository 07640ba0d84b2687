#pragma once
// Reading a model blob as its bytes arrive, with verify_model's checks (size and sha256 against
// the message, the header, names, dtypes and shapes against the model expected) and without ever
// holding the blob: the bytes are handed on tensor by tensor, and the blob is known to be the
// sender's only when finish() returns. Whoever consumes the bytes must keep them aside until
// then (fresh tensors, a spool file), so a blob that fails a check changes nothing.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/blob_ref.h"
#include "core/sha256.h"
#include "fedsilo/state_dict.h"
#include "ml/safetensors.h"

namespace fedsilo {

class ModelBlobReader {
 public:
  // Tensor `tensor` (an index into `expected`) receives `n` bytes at byte `offset` of its data;
  // pieces hold whole elements and come in order.
  using TensorBytes =
      std::function<void(size_t tensor, uint64_t offset, const char* data, size_t n)>;

  ModelBlobReader(const BlobRef& ref, const StateDict& expected, std::string what,
                  TensorBytes on_bytes);

  // Throws ProtocolError when the blob grows past the size its message declares or its header
  // is malformed or does not match the expected layout.
  void feed(const char* data, size_t n);
  // After the last byte. Throws ProtocolError when the size or the sha256 differs.
  void finish();

  // The first floating-point tensor holding NaN or infinity, or empty. Judge it only after
  // finish(): before, the bytes may be a third party's, not the sender's.
  const std::string& nonfinite_tensor() const { return nonfinite_; }
  // Where each expected tensor's data starts in the blob (valid once the header has passed).
  const std::vector<uint64_t>& tensor_offsets() const { return offsets_; }

 private:
  struct Slot {
    size_t tensor;
    uint64_t begin, end;  // in the blob
    size_t element;
    torch::ScalarType type;
  };
  void take_header();
  void take_data(const char* p, size_t n);
  void deliver(const Slot& s, uint64_t offset, const char* p, size_t n);

  BlobRef ref_;
  const StateDict& expected_;
  std::string what_;
  TensorBytes on_bytes_;
  Sha256 sha_;
  int64_t received_ = 0;
  std::string head_;  // the 8 length bytes and the JSON header
  uint64_t header_end_ = 0;
  bool header_done_ = false;
  std::vector<Slot> slots_;  // in data order
  size_t slot_ = 0;
  uint64_t pos_ = 0;  // blob offset of the next byte
  char carry_[8];     // an element split between two pieces
  size_t carry_len_ = 0;
  std::vector<uint64_t> offsets_;
  std::string nonfinite_;
};

// True when no element of `n` bytes of `type` values is NaN or infinite (non-float types: true).
bool all_finite(const void* data, size_t n, torch::ScalarType type);

}  // namespace fedsilo
