#include "protocol/blob_keys.h"

#include <fmt/format.h>

namespace fedsilo::cross_silo {

std::string global_blob_key(const std::string& run_id, int64_t round) {
  return fmt::format("fedsilo/{}/global/round_{}.safetensors", run_id, round);
}

std::string final_blob_key(const std::string& run_id) {
  return fmt::format("fedsilo/{}/global/final.safetensors", run_id);
}

std::string silo_blob_key(const std::string& run_id, int64_t silo, int64_t round) {
  return fmt::format("fedsilo/{}/silo_{}/round_{}.safetensors", run_id, silo, round);
}

std::string control_blob_key(const std::string& run_id, int64_t silo, int64_t round) {
  return fmt::format("fedsilo/{}/control/silo_{}/round_{}.safetensors", run_id, silo, round);
}

}  // namespace fedsilo::cross_silo
