#pragma once
// The one place that decides whether bytes from the network may become a message, and how this
// party numbers what it sends. Any transport seals with it and admits with it, so message
// security does not depend on the transport (docs/protocol.md, "Authenticated messages").
//
// A receiver checks a message completely — size, signature of the route's sender, JSON and
// every field, run id, sender and receiver against the route, direction of its type — before
// anything it remembers changes. Only then is the message compared with the last one accepted
// from its sender: it must be above it in (session, seq). A session is a number that grows with
// every start of a party (MessageAuth::begin_session, a counter in the key folder, not a clock);
// seq counts the messages of one session. So a message of another run, another receiver or an
// older session changes nothing, and a restarted party is accepted at its first message.
//
// A silo's last will is signed when it connects (and again at every reconnect), so it is older
// than what the silo sent since; it is accepted once, and only for the silo's current or a newer
// session: an old will cannot mark a live silo offline.
//
// Drops are logged a few times per sender and reason, then counted and summarised once per
// interval, so a flood of junk costs a bounded number of log lines.
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "comm/message.h"
#include "comm/message_auth.h"

namespace fedsilo::comm {

enum class DropReason {
  kMalformed,  // too large, not JSON, a field missing or of the wrong type
  kSignature,  // unsigned, or not signed by the route's sender
  kRoute,      // sender / receiver / type direction do not match the route
  kOtherRun,   // signed for another run
  kRepeat,     // an id already accepted (QoS 1 delivers twice)
  kReplay,     // not above the last (session, seq) accepted from its sender
  kOldWill,    // a last will of an older session, or one already taken
};
const char* to_string(DropReason r);

struct GuardOptions {
  std::string run_id;
  int64_t self_id = 0;  // 0 = the server
  // Null: messages are neither signed nor checked for replays (an explicit, warned opt-out).
  std::shared_ptr<MessageAuth> auth;
  std::shared_ptr<spdlog::logger> log;
  int lines_per_reason = 3;  // drops logged one by one per (sender, reason), then summarised
  std::chrono::seconds summary_interval{60};
  // Without `auth`, still number messages and admit each sender's in order: for parties that
  // cannot restart (the in-process transport of `simulate`), so the checks run there too.
  bool ordered = false;
};

class MessageGuard {
 public:
  explicit MessageGuard(GuardOptions options);

  // Stamps this session and its next sequence number, encodes and signs. Throws ProtocolError
  // when the message exceeds kMaxMessageBytes.
  std::string seal(const Message& m);

  // The message in `wire`, which the route says comes from `sender` (the server: the silo id of
  // the topic; a silo: 0), when every check passes; nullopt (and a rate-limited log line)
  // otherwise. Only an admitted message changes what the guard remembers.
  std::optional<Message> admit(int64_t sender, const std::string& wire);

  // A drop the transport decided before admit (e.g. a topic that names no silo).
  void drop(int64_t sender, DropReason reason, const std::string& what);
  // Logs the summaries that are due; the transport calls it when idle too.
  void summarise_drops();

  // Messages dropped so far, by reason (for /metrics).
  std::map<std::string, uint64_t> dropped() const;
  int64_t session() const { return session_; }

 private:
  struct Mark {
    int64_t session = 0, seq = 0;            // the last message accepted
    int64_t will_session = 0, will_seq = 0;  // the last will accepted
  };
  struct DropCount {
    uint64_t logged = 0, unlogged = 0;
  };
  std::optional<Message> check(int64_t sender, const std::string& wire, DropReason& why,
                               std::string& what);
  bool accept_locked(const Message& m, DropReason& why, std::string& what);
  void drop_locked(int64_t sender, DropReason reason, const std::string& raw);
  bool remember_id_locked(const std::string& id);

  GuardOptions options_;
  int64_t session_ = 0;

  mutable std::mutex mu_;
  int64_t next_seq_ = 0;
  std::map<int64_t, Mark> marks_;  // only senders whose signature verified
  std::set<std::string> seen_ids_;
  std::deque<std::string> seen_order_;
  std::map<std::pair<int64_t, DropReason>, DropCount> drops_;  // bounded: see drop_locked
  std::map<DropReason, uint64_t> totals_;
  std::chrono::steady_clock::time_point last_summary_;
};

}  // namespace fedsilo::comm
