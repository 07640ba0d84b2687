// mqtt_config.yaml and s3_config.yaml: the flat key files of the broker and the object store.
#include <cstdint>
#include <string>

#include "comm/mqtt_options.h"
#include "comm/s3_store.h"
#include "fedsilo/error.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = fedsilo::fuzz::write_scratch("key_file.yaml", data, size);
  try {
    fedsilo::comm::load_mqtt_options(path);
  } catch (const fedsilo::Error&) {
  }
  try {
    fedsilo::comm::load_s3_options(path);
  } catch (const fedsilo::Error&) {
  }
  return 0;
}
