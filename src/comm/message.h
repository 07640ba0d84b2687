#pragma once
// Control messages of the round protocol (docs/protocol.md). FedML's type numbers are kept.
// Tensors never travel in a message: `model` points at a blob in the object store.
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <string>

#include "core/blob_ref.h"

namespace fedsilo::comm {

enum class MsgType : int {
  kInitConfig = 1,
  kSyncModel = 2,
  kSendModel = 3,
  kClientStatus = 5,
  kCheckClientStatus = 6,
  kFinish = 7,
  // Secure aggregation (docs/protocol.md, "Secure aggregation"); payloads in `sa`.
  kSaAdvertise = 20,  // silo -> server: this round's two public keys
  kSaRoster = 21,     // server -> silo: every participant's public keys (U1)
  kSaShares = 22,     // silo -> server: encrypted key shares, one per other participant
  kSaDeliver = 23,    // server -> silo: the shares addressed to it, and U2
  kSaUnmask = 24,     // server -> silo: who reported (U3) and who dropped
  kSaReveal = 25,     // silo -> server: its shares for unmasking
};

const char* to_string(MsgType t);

// CLIENT_STATUS `status` and FINISH `status` values (docs/protocol.md, "Messages").
struct Status {
  static constexpr const char* kOnline = "ONLINE";        // started, reconnected, answering
  static constexpr const char* kOffline = "OFFLINE";      // a clean leave, or the last will
  static constexpr const char* kTraining = "TRAINING";    // the round's global model is loaded
  static constexpr const char* kUploading = "UPLOADING";  // trained; the upload starts
  static constexpr const char* kAlive = "ALIVE";          // heartbeat while working on a round
  static constexpr const char* kCompleted = "COMPLETED";  // FINISH: the run ended with a model
  static constexpr const char* kAborted = "ABORTED";      // FINISH: the server stopped the run
};

using fedsilo::BlobRef;

struct Message {
  MsgType type = MsgType::kClientStatus;
  std::string id;  // unique per message: "<sender>-<sequence>-<nonce>"
  std::string run_id;
  int64_t sender = 0;  // 0 = server, k = silo k
  int64_t receiver = 0;
  int64_t round = -1;
  BlobRef model;
  // SYNC_MODEL / INIT_CONFIG with SCAFFOLD: the correction c - c_i for this request's data silo.
  BlobRef control;
  int64_t data_silo_index = -1;
  int64_t num_samples = 0;
  std::string status;      // CLIENT_STATUS: ONLINE / FINISHED / OFFLINE
  int64_t sent_at_us = 0;  // sender's wall clock (µs since the epoch), for hop latencies
  // Set by the sender's MessageGuard: its session (a number that grows with every start of the
  // party, comm/message_guard.h) and the message's place in it. A receiver accepts from each
  // sender only messages above the last (session, seq) it accepted, so a replay changes nothing.
  int64_t session = 0;
  int64_t seq = 0;
  nlohmann::json metrics = nlohmann::json::object();
  // Secure-aggregation payload (an object; its fields are checked by cross_silo/secure_round).
  nlohmann::json sa = nlohmann::json::object();
};

// Message ids "<party>-<n>-<nonce>": unique per message, and per start of a party (the random
// nonce), for the receivers' repeat check. Safe to call from several threads.
class MessageIds {
 public:
  explicit MessageIds(int64_t party);
  std::string next();

 private:
  int64_t party_;
  std::string nonce_;
  std::atomic<int64_t> n_{0};
};

// Encodes as a compact JSON object. decode() validates every field and throws ProtocolError
// naming the field that is missing or of the wrong type; payloads over kMaxMessageBytes are
// rejected before parsing.
constexpr size_t kMaxMessageBytes = 64 * 1024;
std::string encode(const Message& m);
int64_t now_us();  // wall clock, µs since the epoch
Message decode(const std::string& payload);

}  // namespace fedsilo::comm
