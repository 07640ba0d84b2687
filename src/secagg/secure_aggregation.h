#pragma once
// Secure aggregation (Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving
// Machine Learning", CCS 2017; the semi-honest variant with dropout recovery): the server learns
// the sum of the updates of the silos that reported, and nothing else about any one of them.
//
// Per round, with fresh keys (so nothing revealed in one round weakens another):
//   1. advertise   each participant u makes two X25519 key pairs: c_u (encrypts shares) and s_u
//                  (agrees pairwise masks), and sends the public halves.            -> U1
//   2. share_keys  u draws a self-mask seed b_u, splits b_u and s_u's secret into Shamir shares
//                  (threshold t of |U1|), and sends each v its shares encrypted with
//                  ChaCha20-Poly1305 under a key from X25519(c_u, c_v).             -> U2
//   3. mask        u uploads y_u = q(w_u x_u) + PRG(b_u) + sum_{v in U2, v > u} PRG(s_uv)
//                  - sum_{v in U2, v < u} PRG(s_uv)  (mod p), PRG = ChaCha20 keyed by the seed,
//                  s_uv from X25519(s_u, s_v).                                      -> U3
//   4. unmask      each survivor sends its shares of b_u for u in U3 and of s_d's secret for d
//                  in U2 \ U3 (never both for one party); from t of them the server removes the
//                  self masks and the dropped parties' pairwise masks: sum y_u - masks =
//                  sum q(w_u x_u), which it dequantises and divides by sum w_u.
// This file holds the arithmetic and cryptography of each step, free of any transport; the
// messages that carry the steps are in docs/protocol.md.
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fedsilo/state_dict.h"

namespace fedsilo::secagg {

// FedML's secure_aggregation_args.prime_number and precision_parameter. Values live in Z_p;
// q(x) = round(x * 2^precision_bits), negatives as p - |q|. The default prime 2^61 - 1 leaves
// room for weighted sums of many silos (FedML's 2^15 - 19 holds only small unweighted sums).
struct Params {
  uint64_t prime = (uint64_t(1) << 61) - 1;
  int precision_bits = 16;
};

// Throws ConfigError when the prime is not a prime in [3, 2^62) or precision is outside 0..52.
void check_params(const Params& p);

// Majority of the round's participants: fewer shares must not unmask anyone.
int threshold_for(int participants);

using Key = std::array<unsigned char, 32>;

struct Advert {
  int64_t id = 0;
  Key cipher_public{};  // c_u
  Key mask_public{};    // s_u
};

// Shares one participant holds for another, as sent in step 4 (plaintext, to the server).
struct Revealed {
  std::map<int64_t, std::string> self_seed_shares;  // of b_u, for survivors u
  std::map<int64_t, std::string> mask_key_shares;   // of s_d's secret, for dropped d
};

// Quantises `state` scaled by `weight` into Z_p, flattened in state order. Throws ProtocolError
// when a value is not finite or so large that `participants` such values could wrap the field.
std::vector<uint64_t> quantize(const StateDict& state, double weight, int participants,
                               const Params& p);
// The inverse for a sum: centred values, divided by `divisor`, shaped like `layout` (float32).
StateDict dequantize(const std::vector<uint64_t>& sum, const StateDict& layout, double divisor,
                     const Params& p);

// Adds (or subtracts) the PRG stream of `seed` to `v`, mod p.
void apply_mask(std::vector<uint64_t>& v, const Key& seed, bool subtract, const Params& p);

// One silo's part in one round.
class Participant {
 public:
  Participant(int64_t self, std::string run_id, int64_t round, Params params);
  ~Participant();
  Participant(const Participant&) = delete;
  Participant& operator=(const Participant&) = delete;

  Advert advertise() const;
  // Step 2: `u1` is every advert the server relayed (this one included). Returns the
  // ciphertext for each other participant.
  std::map<int64_t, std::string> share_keys(const std::vector<Advert>& u1);
  // Step 3: `received` holds the ciphertexts addressed to this participant (from each sender
  // in U2), `u2` the ids in U2. Returns y_u. Throws ProtocolError when a ciphertext does not
  // decrypt (naming its sender) or this participant is not in U2.
  std::vector<uint64_t> mask(std::vector<uint64_t> quantized,
                             const std::map<int64_t, std::string>& received,
                             const std::vector<int64_t>& u2);
  // Step 4. Refuses (ProtocolError) a request that names a party both as survivor and dropped,
  // names parties outside U2, or omits this participant from the survivors.
  Revealed reveal(const std::vector<int64_t>& survivors, const std::vector<int64_t>& dropped) const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// The server's part in one round.
class ServerRound {
 public:
  ServerRound(std::string run_id, int64_t round, Params params, std::vector<Advert> u1,
              int64_t length);
  int threshold() const { return threshold_; }
  const std::vector<Advert>& u1() const { return u1_; }
  // Step 3 input; throws ProtocolError for a wrong length, a value outside Z_p, or a party not
  // in U2.
  void add_masked(int64_t id, const std::vector<uint64_t>& y, const std::vector<int64_t>& u2);
  std::vector<int64_t> survivors() const;
  // Step 4: `revealed` from at least threshold() survivors. Returns sum q(w_u x_u) over the
  // survivors. Throws ProtocolError when too few survivors or shares are there, or a rebuilt
  // key does not match its advert.
  std::vector<uint64_t> unmask(const std::vector<int64_t>& u2,
                               const std::map<int64_t, Revealed>& revealed) const;

 private:
  std::string run_id_;
  int64_t round_;
  Params params_;
  std::vector<Advert> u1_;
  int64_t length_;
  int threshold_;
  std::set<int64_t> reported_;  // U3
  std::vector<uint64_t> sum_;   // of the masked inputs: one model's worth of memory, not n
};

}  // namespace fedsilo::secagg
