#include "secagg/secure_aggregation.h"

#include <sodium.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "fedsilo/error.h"
#include "secagg/secagg_modular.h"
#include "secagg/shamir.h"

namespace fedsilo::secagg {
namespace {

constexpr size_t kShareBytes = 32;  // one Shamir share of a 32-byte secret

void init_sodium() {
  if (sodium_init() < 0) throw Error("libsodium could not be initialised");
}

std::string as_string(const Key& k) { return std::string(k.begin(), k.end()); }

Key as_key(const std::string& s) {
  Key k{};
  std::copy_n(s.begin(), std::min(s.size(), k.size()), k.begin());
  return k;
}

void keypair(Key& secret, Key& pub) {
  randombytes_buf(secret.data(), secret.size());
  crypto_scalarmult_base(pub.data(), secret.data());
}

// A 32-byte key for one purpose, from an X25519 agreement and everything that must bind it:
// the run, the round and the (ordered) pair.
Key derive(const Key& secret, const Key& peer_public, const std::string& purpose,
           const std::string& run_id, int64_t round, int64_t a, int64_t b) {
  Key shared{};
  if (crypto_scalarmult(shared.data(), secret.data(), peer_public.data()) != 0) {
    throw ProtocolError("secure aggregation: a public key is a low-order point (forged advert)");
  }
  std::string context = "fedsilo-secagg|" + purpose + "|" + run_id + "|" + std::to_string(round) +
                        "|" + std::to_string(std::min(a, b)) + "|" + std::to_string(std::max(a, b));
  Key out{};
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, out.size());
  crypto_generichash_update(&st, shared.data(), shared.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(context.data()),
                            context.size());
  crypto_generichash_final(&st, out.data(), out.size());
  sodium_memzero(shared.data(), shared.size());
  return out;
}

std::string associated_data(const std::string& run_id, int64_t round, int64_t from, int64_t to) {
  return "fedsilo-secagg-share|" + run_id + "|" + std::to_string(round) + "|" +
         std::to_string(from) + "|" + std::to_string(to);
}

// Index (1-based Shamir point) of each party in U1, ordered by id.
std::map<int64_t, uint8_t> points_of(const std::vector<Advert>& u1) {
  std::map<int64_t, uint8_t> points;
  std::vector<int64_t> ids;
  for (const auto& a : u1) ids.push_back(a.id);
  std::sort(ids.begin(), ids.end());
  for (size_t i = 0; i < ids.size(); ++i) points[ids[i]] = static_cast<uint8_t>(i + 1);
  return points;
}

void check_u1(const std::vector<Advert>& u1) {
  if (u1.size() < 2 || u1.size() > 255) {
    throw ProtocolError("secure aggregation: " + std::to_string(u1.size()) +
                        " participants; 2 to 255 are supported");
  }
  std::set<int64_t> ids;
  for (const auto& a : u1) {
    if (!ids.insert(a.id).second)
      throw ProtocolError("secure aggregation: participant " + std::to_string(a.id) + " twice");
  }
}

const Advert& advert_of(const std::vector<Advert>& u1, int64_t id) {
  for (const auto& a : u1) {
    if (a.id == id) return a;
  }
  throw ProtocolError("secure aggregation: party " + std::to_string(id) + " is not in U1");
}

}  // namespace

struct Participant::State {
  int64_t self;
  std::string run_id;
  int64_t round;
  Params params;
  Key cipher_secret{}, cipher_public{}, mask_secret{}, mask_public{}, self_seed{};
  std::vector<Advert> u1;
  // The shares each sender gave this participant: of its self-mask seed and of its mask key.
  std::map<int64_t, std::pair<std::string, std::string>> held;
  std::set<int64_t> u2;

  State(int64_t self, std::string run_id, int64_t round, Params params)
      : self(self), run_id(std::move(run_id)), round(round), params(params) {}
  ~State() {
    sodium_memzero(cipher_secret.data(), cipher_secret.size());
    sodium_memzero(mask_secret.data(), mask_secret.size());
    sodium_memzero(self_seed.data(), self_seed.size());
  }
};

Participant::Participant(int64_t self, std::string run_id, int64_t round, Params params)
    : s_(std::make_unique<State>(self, std::move(run_id), round, params)) {
  init_sodium();
  keypair(s_->cipher_secret, s_->cipher_public);
  keypair(s_->mask_secret, s_->mask_public);
  randombytes_buf(s_->self_seed.data(), s_->self_seed.size());
}

Participant::~Participant() = default;

Advert Participant::advertise() const { return {s_->self, s_->cipher_public, s_->mask_public}; }

std::map<int64_t, std::string> Participant::share_keys(const std::vector<Advert>& u1) {
  check_u1(u1);
  const Advert& me = advert_of(u1, s_->self);
  if (me.cipher_public != s_->cipher_public || me.mask_public != s_->mask_public)
    throw ProtocolError("secure aggregation: the relayed list carries a wrong key for this silo");
  s_->u1 = u1;
  auto points = points_of(u1);
  int t = threshold_for(static_cast<int>(u1.size()));
  auto seed_shares = shamir_split(as_string(s_->self_seed), t, static_cast<int>(u1.size()));
  auto key_shares = shamir_split(as_string(s_->mask_secret), t, static_cast<int>(u1.size()));
  std::map<int64_t, std::string> out;
  for (const auto& peer : u1) {
    uint8_t x = points.at(peer.id);
    std::string plain = seed_shares[x - 1].bytes + key_shares[x - 1].bytes;
    if (peer.id == s_->self) {
      s_->held[s_->self] = {seed_shares[x - 1].bytes, key_shares[x - 1].bytes};
      continue;
    }
    Key k = derive(s_->cipher_secret, peer.cipher_public, "share", s_->run_id, s_->round, s_->self,
                   peer.id);
    std::string ad = associated_data(s_->run_id, s_->round, s_->self, peer.id);
    std::string cipher(plain.size() + crypto_aead_chacha20poly1305_ietf_ABYTES, '\0');
    unsigned long long n = 0;
    std::array<unsigned char, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> nonce{};  // key is
    // fresh per (round, pair): a zero nonce is never reused under one key
    crypto_aead_chacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(cipher.data()), &n,
                                              reinterpret_cast<const unsigned char*>(plain.data()),
                                              plain.size(),
                                              reinterpret_cast<const unsigned char*>(ad.data()),
                                              ad.size(), nullptr, nonce.data(), k.data());
    sodium_memzero(plain.data(), plain.size());
    out[peer.id] = cipher;
  }
  return out;
}

std::vector<uint64_t> Participant::mask(std::vector<uint64_t> quantized,
                                        const std::map<int64_t, std::string>& received,
                                        const std::vector<int64_t>& u2) {
  if (s_->u1.empty()) throw ProtocolError("secure aggregation: mask before share_keys");
  s_->u2 = std::set<int64_t>(u2.begin(), u2.end());
  if (!s_->u2.count(s_->self))
    throw ProtocolError("secure aggregation: this silo is not in the round's U2");
  for (int64_t v : s_->u2) {
    if (v == s_->self) continue;
    const Advert& peer = advert_of(s_->u1, v);
    auto it = received.find(v);
    if (it == received.end())
      throw ProtocolError("secure aggregation: no shares from silo " + std::to_string(v));
    Key k =
        derive(s_->cipher_secret, peer.cipher_public, "share", s_->run_id, s_->round, s_->self, v);
    std::string ad = associated_data(s_->run_id, s_->round, v, s_->self);
    const std::string& c = it->second;
    std::string plain(2 * kShareBytes, '\0');
    unsigned long long n = 0;
    std::array<unsigned char, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> nonce{};
    if (c.size() != plain.size() + crypto_aead_chacha20poly1305_ietf_ABYTES ||
        crypto_aead_chacha20poly1305_ietf_decrypt(
            reinterpret_cast<unsigned char*>(plain.data()), &n, nullptr,
            reinterpret_cast<const unsigned char*>(c.data()), c.size(),
            reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nonce.data(),
            k.data()) != 0) {
      throw ProtocolError("secure aggregation: the shares from silo " + std::to_string(v) +
                          " do not decrypt (forged or corrupted)");
    }
    s_->held[v] = {plain.substr(0, kShareBytes), plain.substr(kShareBytes)};
    sodium_memzero(plain.data(), plain.size());
  }
  apply_mask(quantized, s_->self_seed, false, s_->params);
  for (int64_t v : s_->u2) {
    if (v == s_->self) continue;
    Key seed = derive(s_->mask_secret, advert_of(s_->u1, v).mask_public, "mask", s_->run_id,
                      s_->round, s_->self, v);
    // The smaller id adds, the larger subtracts: the pair cancels in the sum.
    apply_mask(quantized, seed, s_->self > v, s_->params);
  }
  return quantized;
}

Revealed Participant::reveal(const std::vector<int64_t>& survivors,
                             const std::vector<int64_t>& dropped) const {
  std::set<int64_t> alive(survivors.begin(), survivors.end());
  if (!alive.count(s_->self))
    throw ProtocolError("secure aggregation: unmask request does not list this silo as alive");
  Revealed r;
  for (int64_t u : survivors) {
    if (!s_->u2.count(u))
      throw ProtocolError("secure aggregation: unmask request names " + std::to_string(u) +
                          ", which is not in U2");
    r.self_seed_shares[u] = s_->held.at(u).first;
  }
  for (int64_t d : dropped) {
    // Revealing both shares of one party would let the server unmask its update.
    if (alive.count(d) || !s_->u2.count(d)) {
      throw ProtocolError("secure aggregation: unmask request names " + std::to_string(d) +
                          " as dropped, but it is alive or not in U2 (refused)");
    }
    r.mask_key_shares[d] = s_->held.at(d).second;
  }
  return r;
}

ServerRound::ServerRound(std::string run_id, int64_t round, Params params, std::vector<Advert> u1,
                         int64_t length)
    : run_id_(std::move(run_id)),
      round_(round),
      params_(params),
      u1_(std::move(u1)),
      length_(length),
      threshold_(threshold_for(static_cast<int>(u1_.size()))) {
  init_sodium();
  check_u1(u1_);
}

void ServerRound::add_masked(int64_t id, const std::vector<uint64_t>& y,
                             const std::vector<int64_t>& u2) {
  if (std::find(u2.begin(), u2.end(), id) == u2.end())
    throw ProtocolError("secure aggregation: masked input from " + std::to_string(id) +
                        ", which is not in U2");
  if (static_cast<int64_t>(y.size()) != length_) {
    throw ProtocolError("secure aggregation: masked input from " + std::to_string(id) + " has " +
                        std::to_string(y.size()) + " values, expected " + std::to_string(length_));
  }
  for (uint64_t v : y) {
    if (v >= params_.prime)
      throw ProtocolError("secure aggregation: masked input from " + std::to_string(id) +
                          " has a value outside the field");
  }
  if (!reported_.insert(id).second)
    throw ProtocolError("secure aggregation: a second masked input from " + std::to_string(id));
  if (sum_.empty()) sum_.assign(length_, 0);
  for (int64_t i = 0; i < length_; ++i) sum_[i] = add_mod(sum_[i], y[i], params_.prime);
}

std::vector<int64_t> ServerRound::survivors() const {
  return std::vector<int64_t>(reported_.begin(), reported_.end());
}

std::vector<uint64_t> ServerRound::unmask(const std::vector<int64_t>& u2,
                                          const std::map<int64_t, Revealed>& revealed) const {
  auto survivors = this->survivors();
  if (static_cast<int>(survivors.size()) < threshold_) {
    throw ProtocolError("secure aggregation: " + std::to_string(survivors.size()) +
                        " silos reported, " + std::to_string(threshold_) +
                        " needed to unmask without exposing anyone");
  }
  auto points = points_of(u1_);
  // Shamir shares of one secret, from the survivors that answered.
  auto rebuild = [&](int64_t owner, bool mask_key) {
    std::vector<ShamirShare> shares;
    for (const auto& [from, r] : revealed) {
      if (!reported_.count(from)) continue;  // only survivors' answers count
      const auto& m = mask_key ? r.mask_key_shares : r.self_seed_shares;
      auto it = m.find(owner);
      if (it != m.end() && it->second.size() == kShareBytes)
        shares.push_back({points.at(from), it->second});
    }
    if (static_cast<int>(shares.size()) < threshold_) {
      throw ProtocolError("secure aggregation: " + std::to_string(shares.size()) +
                          " shares for silo " + std::to_string(owner) + ", " +
                          std::to_string(threshold_) + " needed");
    }
    return as_key(shamir_combine(shares, threshold_));
  };
  std::vector<uint64_t> sum = sum_;
  for (int64_t u : survivors) apply_mask(sum, rebuild(u, false), true, params_);
  for (int64_t d : u2) {
    if (reported_.count(d)) continue;
    Key secret = rebuild(d, true);
    Key check{};
    crypto_scalarmult_base(check.data(), secret.data());
    if (check != advert_of(u1_, d).mask_public)
      throw ProtocolError("secure aggregation: the rebuilt mask key of dropped silo " +
                          std::to_string(d) + " does not match its advert (bad shares)");
    for (int64_t u : survivors) {
      Key seed = derive(secret, advert_of(u1_, u).mask_public, "mask", run_id_, round_, u, d);
      // Survivor u added this pair's mask when u < d and subtracted it otherwise; undo that.
      apply_mask(sum, seed, u < d, params_);
    }
    sodium_memzero(secret.data(), secret.size());
  }
  return sum;
}

}  // namespace fedsilo::secagg
