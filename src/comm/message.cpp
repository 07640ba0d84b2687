#include "comm/message.h"

#include <limits>
#include <type_traits>

#include <chrono>
#include <random>

#include <fmt/format.h>

#include "fedsilo/error.h"

namespace fedsilo::comm {
using nlohmann::json;

const char* to_string(MsgType t) {
  switch (t) {
    case MsgType::kInitConfig:
      return "INIT_CONFIG";
    case MsgType::kSyncModel:
      return "SYNC_MODEL";
    case MsgType::kSendModel:
      return "SEND_MODEL";
    case MsgType::kClientStatus:
      return "CLIENT_STATUS";
    case MsgType::kCheckClientStatus:
      return "CHECK_CLIENT_STATUS";
    case MsgType::kFinish:
      return "FINISH";
    case MsgType::kSaAdvertise:
      return "SA_ADVERTISE";
    case MsgType::kSaRoster:
      return "SA_ROSTER";
    case MsgType::kSaShares:
      return "SA_SHARES";
    case MsgType::kSaDeliver:
      return "SA_DELIVER";
    case MsgType::kSaUnmask:
      return "SA_UNMASK";
    case MsgType::kSaReveal:
      return "SA_REVEAL";
  }
  return "UNKNOWN";
}

MessageIds::MessageIds(int64_t party) : party_(party) {
  std::random_device rd;
  nonce_ = fmt::format("{:08x}", rd());
}

std::string MessageIds::next() { return fmt::format("{}-{}-{}", party_, ++n_, nonce_); }

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string encode(const Message& m) {
  json j = {{"type", static_cast<int>(m.type)},
            {"id", m.id},
            {"run_id", m.run_id},
            {"sender", m.sender},
            {"receiver", m.receiver},
            {"round", m.round}};
  auto blob = [](const BlobRef& b) {
    return json{{"key", b.key}, {"size", b.size}, {"sha256", b.sha256}};
  };
  if (!m.model.empty()) j["model"] = blob(m.model);
  if (!m.control.empty()) j["control"] = blob(m.control);
  if (m.data_silo_index >= 0) j["data_silo_index"] = m.data_silo_index;
  if (m.num_samples) j["num_samples"] = m.num_samples;
  if (!m.status.empty()) j["status"] = m.status;
  if (!m.metrics.empty()) j["metrics"] = m.metrics;
  if (!m.sa.empty()) j["sa"] = m.sa;
  if (m.sent_at_us) j["sent_at_us"] = m.sent_at_us;
  if (m.session) j["session"] = m.session;
  if (m.seq) j["seq"] = m.seq;
  return j.dump();
}

namespace {

// Integers must be JSON integers in T's range: nlohmann would otherwise convert 1e300 (undefined
// behaviour), true, or 2^64-1 silently.
template <typename T>
T integer_value(const json& v, const char* name) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    auto i = v.get<int64_t>();
    if (i >= std::numeric_limits<T>::min() && i <= std::numeric_limits<T>::max())
      return static_cast<T>(i);
  } else {
    throw ProtocolError(std::string("message: field ") + name +
                        " has the wrong type (an integer is expected): " + v.dump());
  }
  throw ProtocolError(std::string("message: field ") + name + " is out of range: " + v.dump());
}

template <typename T>
T field(const json& j, const char* name, bool required, T fallback) {
  if (!j.contains(name)) {
    if (required) throw ProtocolError(std::string("message: field ") + name + " is missing");
    return fallback;
  }
  const json& v = j.at(name);
  if constexpr (std::is_integral_v<T>) {
    return integer_value<T>(v, name);
  } else {
    if (!v.is_string()) {
      throw ProtocolError(std::string("message: field ") + name +
                          " has the wrong type (a string is expected): " + v.dump());
    }
    return v.get<T>();
  }
}

BlobRef blob_field(const json& j, const char* name) {
  BlobRef ref;
  if (!j.contains(name)) return ref;
  const auto& b = j[name];
  if (!b.is_object())
    throw ProtocolError(std::string("message: field ") + name + " must be an object");
  ref.key = field<std::string>(b, "key", true, "");
  ref.size = field<int64_t>(b, "size", true, 0);
  ref.sha256 = field<std::string>(b, "sha256", true, "");
  if (ref.key.empty() || ref.size <= 0 || ref.sha256.size() != 64) {
    throw ProtocolError(std::string("message: field ") + name +
                        " needs a key, a positive size and a 64-hex-digit sha256");
  }
  return ref;
}

}  // namespace

Message decode(const std::string& payload) {
  if (payload.size() > kMaxMessageBytes) {
    throw ProtocolError("message: " + std::to_string(payload.size()) +
                        " bytes exceeds the limit of " + std::to_string(kMaxMessageBytes));
  }
  json j = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw ProtocolError("message: not a JSON object");
  Message m;
  int type = field<int>(j, "type", true, 0);
  switch (type) {
    case 1:
    case 2:
    case 3:
    case 5:
    case 6:
    case 7:
    case 20:
    case 21:
    case 22:
    case 23:
    case 24:
    case 25:
      m.type = static_cast<MsgType>(type);
      break;
    default:
      throw ProtocolError("message: unknown type " + std::to_string(type));
  }
  m.id = field<std::string>(j, "id", true, "");
  if (m.id.empty()) throw ProtocolError("message: field id is empty");
  m.run_id = field<std::string>(j, "run_id", true, "");
  m.sender = field<int64_t>(j, "sender", true, 0);
  m.receiver = field<int64_t>(j, "receiver", true, 0);
  m.round = field<int64_t>(j, "round", false, -1);
  m.model = blob_field(j, "model");
  m.control = blob_field(j, "control");
  m.data_silo_index = field<int64_t>(j, "data_silo_index", false, -1);
  m.num_samples = field<int64_t>(j, "num_samples", false, 0);
  if (m.num_samples < 0) throw ProtocolError("message: field num_samples is negative");
  m.status = field<std::string>(j, "status", false, "");
  m.sent_at_us = field<int64_t>(j, "sent_at_us", false, 0);
  m.session = field<int64_t>(j, "session", false, 0);
  if (m.session < 0) throw ProtocolError("message: field session is negative");
  m.seq = field<int64_t>(j, "seq", false, 0);
  if (m.seq < 0) throw ProtocolError("message: field seq is negative");
  if (j.contains("metrics")) {
    if (!j["metrics"].is_object()) throw ProtocolError("message: field metrics must be an object");
    m.metrics = j["metrics"];
  }
  if (j.contains("sa")) {
    if (!j["sa"].is_object()) throw ProtocolError("message: field sa must be an object");
    m.sa = j["sa"];
  }
  if ((m.type == MsgType::kInitConfig || m.type == MsgType::kSyncModel ||
       m.type == MsgType::kSendModel) &&
      (m.model.empty() || m.round < 0)) {
    throw ProtocolError(std::string("message: ") + to_string(m.type) +
                        " needs a round and a model");
  }
  return m;
}

}  // namespace fedsilo::comm
