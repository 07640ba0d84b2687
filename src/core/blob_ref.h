#pragma once
// Where a blob lives in the object store and what it must hash to. Messages carry it; the
// receiver checks size and sha256 before it parses a byte.
#include <cstdint>
#include <string>

namespace fedsilo {

struct BlobRef {
  std::string key;
  int64_t size = 0;
  std::string sha256;  // lowercase hex
  bool empty() const { return key.empty(); }
};

}  // namespace fedsilo
