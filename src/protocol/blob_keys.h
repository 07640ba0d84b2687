#pragma once
// The object-store keys of a run's model blobs. Every party derives them from (run, silo,
// round); a key named in a message is accepted only when it is the one derived here, so a
// forged message can never make a party read, or the server delete, any other object.
#include <cstdint>
#include <string>

namespace fedsilo::cross_silo {

std::string global_blob_key(const std::string& run_id, int64_t round);
std::string final_blob_key(const std::string& run_id);
std::string silo_blob_key(const std::string& run_id, int64_t silo, int64_t round);
// SCAFFOLD: the server's correction for silo `silo` in round `round` (docs/algorithms.md).
std::string control_blob_key(const std::string& run_id, int64_t silo, int64_t round);

}  // namespace fedsilo::cross_silo
