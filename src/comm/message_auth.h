#pragma once
// Authenticated messages: every message is signed by its sender with Ed25519 (libsodium), and
// the signed bytes carry the run id and a per-sender sequence number, so a message forged by
// anyone without the sender's secret key, or replayed into another run, fails to verify.
//
// Keys live in one folder (security_args.key_dir): <party>.secret (mode 0600) and <party>.pub,
// where party is "server" or "silo_<k>". A party without a key makes one on first start, so even
// an unprovisioned deployment on one machine (or a shared folder) signs everything; across
// organisations, `fedsilo provision` (docs/deployment.md) hands each party its secret key and
// everyone's public keys. A peer's public key is read when its first message arrives.
//
// On the wire a signed message is the 64-byte signature followed by the message's JSON.
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace fedsilo::comm {

class MessageAuth {
 public:
  // Loads this party's secret key from `key_dir`, or makes the key pair there. Throws Error
  // naming the file when a key file is unreadable or malformed.
  MessageAuth(std::string key_dir, int64_t self_id);

  // The signed wire form of `payload`.
  std::string seal(const std::string& payload) const;
  // Checks that `wire` was signed by `sender`; returns the payload. Throws ProtocolError saying
  // why not (too short, no public key for the sender, signature mismatch).
  std::string open(const std::string& wire, int64_t sender);

  // This party's next session number: <key_dir>/<party>.session, incremented under a lock and
  // fsynced, so every start of a party (in any run) has a higher number than the last, with no
  // clock involved. A folder without the counter (first start, or provisioned keys) starts it
  // from the wall clock in seconds, the one use of a clock: above any count a lost counter could
  // have reached by restarts. Throws Error naming the file when it cannot be read or written.
  int64_t begin_session() const;

  static std::string party_name(int64_t id);
  const std::string& key_dir() const { return dir_; }

 private:
  const std::array<unsigned char, 32>& public_key_of(int64_t sender);

  std::string dir_;
  int64_t self_;
  std::array<unsigned char, 64> secret_{};
  std::mutex mu_;
  std::map<int64_t, std::array<unsigned char, 32>> peers_;
};

}  // namespace fedsilo::comm
