#include "protocol/secure_round.h"

#include <fmt/format.h>
#include <sodium.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>

#include "fedsilo/error.h"

namespace fedsilo::cross_silo {
using nlohmann::json;
namespace {

constexpr size_t kCipherBytes = 64 + 16;  // two 32-byte shares + the Poly1305 tag
constexpr size_t kShareBytes = 32;

std::string to_hex(const std::string& bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  out.pop_back();
  return out;
}

// Exactly `n` bytes from a hex string in `v`, or ProtocolError naming `what`.
std::string from_hex(const json& v, size_t n, const std::string& what) {
  if (!v.is_string() || v.get_ref<const std::string&>().size() != 2 * n)
    throw ProtocolError("secure aggregation: " + what + " must be " + std::to_string(2 * n) +
                        " hex digits");
  const auto& hex = v.get_ref<const std::string&>();
  std::string out(n, '\0');
  size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), n, hex.data(), hex.size(),
                     nullptr, &len, nullptr) != 0 ||
      len != n) {
    throw ProtocolError("secure aggregation: " + what + " is not hex");
  }
  return out;
}

secagg::Key key_from_hex(const json& v, const std::string& what) {
  auto s = from_hex(v, 32, what);
  secagg::Key k{};
  std::copy(s.begin(), s.end(), k.begin());
  return k;
}

std::string key_hex(const secagg::Key& k) { return to_hex(std::string(k.begin(), k.end())); }

int64_t id_of(const std::string& s, const std::string& what) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
    throw ProtocolError("secure aggregation: " + what + " '" + s + "' is not a silo id");
  return std::stoll(s);
}

std::vector<int64_t> ids_of(const json& sa, const char* field) {
  if (!sa.is_object() || !sa.contains(field) || !sa[field].is_array() || sa[field].size() > 255)
    throw ProtocolError(std::string("secure aggregation: ") + field + " must be a list of ids");
  std::vector<int64_t> ids;
  for (const auto& v : sa[field]) {
    if (!v.is_number_integer())
      throw ProtocolError(std::string("secure aggregation: ") + field + " must hold integers");
    ids.push_back(v.get<int64_t>());
  }
  return ids;
}

// sa[field], or ProtocolError when sa is not an object or lacks it.
const json& member(const json& sa, const char* field) {
  if (!sa.is_object() || !sa.contains(field))
    throw ProtocolError(std::string("secure aggregation: field ") + field + " is missing");
  return sa[field];
}

const json& object_field(const json& sa, const char* field) {
  if (!sa.is_object() || !sa.contains(field) || !sa[field].is_object() || sa[field].size() > 255)
    throw ProtocolError(std::string("secure aggregation: field ") + field +
                        " must be an object of at most 255 entries");
  return sa[field];
}

}  // namespace

StateDict masked_layout(const StateDict& model_layout) {
  int64_t n = 0;
  for (const auto& [name, t] : model_layout) n += t.numel();
  return {{"secagg.masked", torch::empty({n}, torch::dtype(torch::kInt64).device(torch::kMeta))}};
}

secagg::Params secure_params(const Args& args) {
  secagg::Params p{static_cast<uint64_t>(args.prime_number),
                   static_cast<int>(args.precision_parameter)};
  secagg::check_params(p);
  return p;
}

SiloSecureRound::SiloSecureRound(const Args& args, int64_t silo, int64_t round)
    : silo_(silo),
      round_(round),
      params_(secure_params(args)),
      participant_(silo, args.run_id, round, params_) {}

json SiloSecureRound::advert() const {
  auto a = participant_.advertise();
  return {{"c", key_hex(a.cipher_public)}, {"s", key_hex(a.mask_public)}};
}

json SiloSecureRound::shares(const json& roster) {
  const json& u1 = object_field(roster, "u1");
  std::vector<secagg::Advert> adverts;
  for (const auto& [id, keys] : u1.items()) {
    if (!keys.is_object()) throw ProtocolError("secure aggregation: roster entry is not an object");
    secagg::Advert a;
    a.id = id_of(id, "roster id");
    a.cipher_public = key_from_hex(member(keys, "c"), "roster key c");
    a.mask_public = key_from_hex(member(keys, "s"), "roster key s");
    adverts.push_back(a);
  }
  participants_ = adverts.size();
  json to = json::object();
  for (const auto& [peer, cipher] : participant_.share_keys(adverts))
    to[std::to_string(peer)] = to_hex(cipher);
  return {{"to", to}};
}

StateDict SiloSecureRound::masked(const StateDict& update, double weight, const json& deliver) {
  auto u2 = ids_of(deliver, "u2");
  std::map<int64_t, std::string> received;
  for (const auto& [from, cipher] : object_field(deliver, "from").items())
    received[id_of(from, "sender")] = from_hex(cipher, kCipherBytes, "share ciphertext");
  auto q = secagg::quantize(update, weight, static_cast<int>(participants_), params_);
  auto y = participant_.mask(std::move(q), received, u2);
  auto t = torch::empty({static_cast<int64_t>(y.size())}, torch::kInt64);
  std::memcpy(t.data_ptr<int64_t>(), y.data(), y.size() * sizeof(uint64_t));  // all < 2^62
  return {{"secagg.masked", t}};
}

json SiloSecureRound::reveal(const json& unmask) const {
  auto r = participant_.reveal(ids_of(unmask, "alive"), ids_of(unmask, "dropped"));
  json b = json::object(), s = json::object();
  for (const auto& [id, share] : r.self_seed_shares) b[std::to_string(id)] = to_hex(share);
  for (const auto& [id, share] : r.mask_key_shares) s[std::to_string(id)] = to_hex(share);
  return {{"b", b}, {"s", s}};
}

ServerSecureRound::ServerSecureRound(const Args& args, int64_t round,
                                     const std::vector<int64_t>& selected,
                                     const StateDict& model_layout)
    : run_id_(args.run_id),
      round_(round),
      params_(secure_params(args)),
      layout_(model_layout),
      pending_(selected.begin(), selected.end()) {
  for (const auto& [name, t] : layout_) length_ += t.numel();
}

const char* ServerSecureRound::phase_name() const {
  switch (phase_) {
    case Phase::kAdverts:
      return "secure aggregation keys (SA_ADVERTISE)";
    case Phase::kShares:
      return "secure aggregation key shares (SA_SHARES)";
    case Phase::kUploads:
      return "masked models (SEND_MODEL)";
    case Phase::kReveal:
      return "unmasking shares (SA_REVEAL)";
    case Phase::kUnmasked:
      return "nothing (unmasked)";
    case Phase::kFailed:
      return "nothing (secure aggregation failed)";
  }
  return "";
}

void ServerSecureRound::fail(const std::string& why) {
  phase_ = Phase::kFailed;
  failure_ = why;
  pending_.clear();
}

// Moves to the next phase when nobody is pending; true when it moved.
bool ServerSecureRound::advance() {
  if (!pending_.empty()) return false;
  try {
    switch (phase_) {
      case Phase::kAdverts:
        if (u1_.size() < 2) {
          fail(fmt::format("{} silo(s) advertised keys; secure aggregation needs 2 or more",
                           u1_.size()));
          return true;
        }
        for (const auto& a : u1_) pending_.insert(a.id);
        phase_ = Phase::kShares;
        return true;
      case Phase::kShares: {
        int t = secagg::threshold_for(static_cast<int>(u1_.size()));
        if (static_cast<int>(u2_.size()) < t) {
          fail(fmt::format("{} of {} silos shared their keys, {} needed", u2_.size(), u1_.size(),
                           t));
          return true;
        }
        std::sort(u2_.begin(), u2_.end());
        server_ = std::make_unique<secagg::ServerRound>(run_id_, round_, params_, u1_, length_);
        pending_ = std::set<int64_t>(u2_.begin(), u2_.end());
        phase_ = Phase::kUploads;
        return true;
      }
      case Phase::kUploads: {
        auto alive = server_->survivors();
        if (static_cast<int>(alive.size()) < server_->threshold()) {
          fail(fmt::format("{} silos uploaded, {} needed to unmask without exposing anyone",
                           alive.size(), server_->threshold()));
          return true;
        }
        pending_ = std::set<int64_t>(alive.begin(), alive.end());
        phase_ = Phase::kReveal;
        return true;
      }
      case Phase::kReveal:
        sum_ = server_->unmask(u2_, revealed_);
        phase_ = Phase::kUnmasked;
        return true;
      default:
        return false;
    }
  } catch (const ProtocolError& e) {
    fail(e.what());
    return true;
  }
}

bool ServerSecureRound::on_advert(int64_t silo, const json& sa) {
  if (phase_ != Phase::kAdverts || !pending_.count(silo)) return false;
  secagg::Advert a;
  a.id = silo;
  a.cipher_public = key_from_hex(member(sa, "c"), "key c");
  a.mask_public = key_from_hex(member(sa, "s"), "key s");
  u1_.push_back(a);
  pending_.erase(silo);
  return advance();
}

bool ServerSecureRound::on_shares(int64_t silo, const json& sa) {
  if (phase_ != Phase::kShares || !pending_.count(silo)) return false;
  const json& to = object_field(sa, "to");
  std::map<int64_t, std::string> parsed;
  for (const auto& [peer, cipher] : to.items()) {
    int64_t id = id_of(peer, "share recipient");
    bool in_u1 = std::any_of(u1_.begin(), u1_.end(), [&](const auto& a) { return a.id == id; });
    if (!in_u1 || id == silo)
      throw ProtocolError(fmt::format("secure aggregation: silo {} sent a share to {}", silo, id));
    parsed[id] = from_hex(cipher, kCipherBytes, "share ciphertext");
  }
  if (parsed.size() + 1 != u1_.size())
    throw ProtocolError(fmt::format("secure aggregation: silo {} sent {} shares for {} others",
                                    silo, parsed.size(), u1_.size() - 1));
  for (auto& [to_id, cipher] : parsed) mailbox_[to_id][silo] = std::move(cipher);
  u2_.push_back(silo);
  pending_.erase(silo);
  return advance();
}

bool ServerSecureRound::on_upload(int64_t silo, const StateDict& masked_blob, double weight) {
  if (phase_ != Phase::kUploads || !pending_.count(silo)) return false;
  const auto& t = masked_blob.at(0).second;
  std::vector<uint64_t> y(static_cast<size_t>(t.numel()));
  std::memcpy(y.data(), t.contiguous().data_ptr<int64_t>(), y.size() * sizeof(uint64_t));
  server_->add_masked(silo, y, u2_);
  total_weight_ += weight;
  pending_.erase(silo);
  return advance();
}

bool ServerSecureRound::on_reveal(int64_t silo, const json& sa) {
  if (phase_ != Phase::kReveal || !pending_.count(silo)) return false;
  secagg::Revealed r;
  for (const auto& [id, share] : object_field(sa, "b").items())
    r.self_seed_shares[id_of(id, "share owner")] = from_hex(share, kShareBytes, "share");
  for (const auto& [id, share] : object_field(sa, "s").items())
    r.mask_key_shares[id_of(id, "share owner")] = from_hex(share, kShareBytes, "share");
  revealed_[silo] = std::move(r);
  pending_.erase(silo);
  return advance();
}

bool ServerSecureRound::drop(int64_t silo) {
  if (!pending_.erase(silo)) return false;
  // A survivor that does not reveal simply contributes no shares: others may be enough. A silo
  // dropped before uploading is unmasked from the others' shares of its key.
  return advance();
}

json ServerSecureRound::roster() const {
  json u1 = json::object();
  for (const auto& a : u1_)
    u1[std::to_string(a.id)] = {{"c", key_hex(a.cipher_public)}, {"s", key_hex(a.mask_public)}};
  return {{"u1", u1}};
}

json ServerSecureRound::deliver_for(int64_t silo) const {
  json from = json::object();
  auto it = mailbox_.find(silo);
  if (it != mailbox_.end()) {
    for (const auto& [sender, cipher] : it->second) {
      // Only shares of silos in U2 (which shared with everyone) are delivered.
      if (std::binary_search(u2_.begin(), u2_.end(), sender))
        from[std::to_string(sender)] = to_hex(cipher);
    }
  }
  return {{"u2", u2_}, {"from", from}};
}

json ServerSecureRound::unmask_request() const {
  auto alive = server_->survivors();
  std::vector<int64_t> dropped;
  for (int64_t id : u2_) {
    if (!std::binary_search(alive.begin(), alive.end(), id)) dropped.push_back(id);
  }
  return {{"alive", alive}, {"dropped", dropped}};
}

StateDict ServerSecureRound::result() const {
  if (phase_ != Phase::kUnmasked) throw ProtocolError("secure aggregation: not unmasked");
  return secagg::dequantize(sum_, layout_, total_weight_, params_);
}

}  // namespace fedsilo::cross_silo
