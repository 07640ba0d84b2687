// The control-message decoder: every field of a message may be forged by anyone who can reach
// the broker. A message that decodes must survive encode -> decode unchanged.
#include <cstdint>
#include <string>

#include "comm/message.h"
#include "fedsilo/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedsilo::comm;
  std::string payload(reinterpret_cast<const char*>(data), size);
  Message m;
  try {
    m = decode(payload);
  } catch (const fedsilo::Error&) {
    return 0;
  }
  Message again = decode(encode(m));
  if (encode(again) != encode(m)) __builtin_trap();
  return 0;
}
