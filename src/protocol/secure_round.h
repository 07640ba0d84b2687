#pragma once
// Secure aggregation inside a round (docs/protocol.md, "Secure aggregation"): the messages'
// `sa` payloads and the bookkeeping of each side, around ml/secure_aggregation's arithmetic.
// The server learns only the weighted sum of the silos that reported; a silo that drops after
// sharing its keys is recovered from the others' shares.
#include <nlohmann/json.hpp>

#include <memory>
#include <set>
#include <string>

#include "fedsilo/args.h"
#include "fedsilo/state_dict.h"
#include "secagg/secure_aggregation.h"

namespace fedsilo::cross_silo {

// The blob a silo uploads instead of its model: the masked values, one int64 per value.
StateDict masked_layout(const StateDict& model_layout);
// The parameters a config asks for (checked: ConfigError).
secagg::Params secure_params(const Args& args);

class SiloSecureRound {
 public:
  SiloSecureRound(const Args& args, int64_t silo, int64_t round);
  int64_t round() const { return round_; }
  nlohmann::json advert() const;                        // SA_ADVERTISE
  nlohmann::json shares(const nlohmann::json& roster);  // SA_ROSTER -> SA_SHARES
  // SA_DELIVER -> the masked blob. `weight` is the silo's sample count.
  StateDict masked(const StateDict& update, double weight, const nlohmann::json& deliver);
  nlohmann::json reveal(const nlohmann::json& unmask) const;  // SA_UNMASK -> SA_REVEAL

 private:
  int64_t silo_, round_;
  secagg::Params params_;
  secagg::Participant participant_;
  size_t participants_ = 0;
};

class ServerSecureRound {
 public:
  enum class Phase { kAdverts, kShares, kUploads, kReveal, kUnmasked, kFailed };
  ServerSecureRound(const Args& args, int64_t round, const std::vector<int64_t>& selected,
                    const StateDict& model_layout);

  Phase phase() const { return phase_; }
  const char* phase_name() const;
  const std::set<int64_t>& pending() const { return pending_; }
  const std::string& failure() const { return failure_; }

  // Each takes one silo's contribution to the current phase and returns true when that
  // completed the phase. A malformed payload throws ProtocolError naming the silo; the caller
  // then drops the silo for this round.
  bool on_advert(int64_t silo, const nlohmann::json& sa);
  bool on_shares(int64_t silo, const nlohmann::json& sa);
  bool on_upload(int64_t silo, const StateDict& masked_blob, double weight);
  bool on_reveal(int64_t silo, const nlohmann::json& sa);
  // The silo went away this round (OFFLINE, or a bad payload): true when the phase completed.
  bool drop(int64_t silo);

  nlohmann::json roster() const;                   // for SA_ROSTER (phase kShares)
  nlohmann::json deliver_for(int64_t silo) const;  // for SA_DELIVER (phase kUploads)
  nlohmann::json unmask_request() const;           // for SA_UNMASK (phase kReveal)
  // The survivors' weighted average (phase kUnmasked), shaped like the model.
  StateDict result() const;
  double total_weight() const { return total_weight_; }

 private:
  bool advance();
  void fail(const std::string& why);

  std::string run_id_;
  int64_t round_;
  secagg::Params params_;
  StateDict layout_;
  int64_t length_ = 0;
  Phase phase_ = Phase::kAdverts;
  std::set<int64_t> pending_;
  std::string failure_;
  std::vector<secagg::Advert> u1_;
  std::vector<int64_t> u2_;
  std::map<int64_t, std::map<int64_t, std::string>> mailbox_;  // to -> from -> ciphertext
  std::unique_ptr<secagg::ServerRound> server_;
  std::map<int64_t, secagg::Revealed> revealed_;
  double total_weight_ = 0;
  std::vector<uint64_t> sum_;
};

}  // namespace fedsilo::cross_silo
