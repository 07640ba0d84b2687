#include "comm/message_guard.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "core/log.h"
#include "fedsilo/error.h"

namespace fedsilo::comm {
namespace {

constexpr size_t kSeenIds = 4096;  // message ids remembered for dropping repeats quietly
// (sender, reason) pairs counted one by one; beyond, drops count under sender -1. A route
// sender comes from a topic anyone can publish on, so the table must not grow with them.
constexpr size_t kDropKeys = 256;

std::string role(int64_t id) {
  if (id < 0) return "other senders";
  return id == 0 ? "the server" : "silo " + std::to_string(id);
}

bool server_sends(MsgType t) {
  switch (t) {
    case MsgType::kInitConfig:
    case MsgType::kSyncModel:
    case MsgType::kCheckClientStatus:
    case MsgType::kFinish:
    case MsgType::kSaRoster:
    case MsgType::kSaDeliver:
    case MsgType::kSaUnmask:
      return true;
    default:
      return false;
  }
}

bool is_will(const Message& m) {
  return m.type == MsgType::kClientStatus && m.status == Status::kOffline;
}

}  // namespace

const char* to_string(DropReason r) {
  switch (r) {
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kSignature:
      return "signature";
    case DropReason::kRoute:
      return "route";
    case DropReason::kOtherRun:
      return "other_run";
    case DropReason::kRepeat:
      return "repeat";
    case DropReason::kReplay:
      return "replay";
    case DropReason::kOldWill:
      return "old_will";
  }
  return "unknown";
}

MessageGuard::MessageGuard(GuardOptions options)
    : options_(std::move(options)), last_summary_(std::chrono::steady_clock::now()) {
  if (!options_.log) options_.log = spdlog::default_logger();
  if (options_.auth) {
    session_ = options_.auth->begin_session();
  } else if (options_.ordered) {
    session_ = 1;
  }
}

std::string MessageGuard::seal(const Message& m) {
  Message out = m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.session = session_;
    out.seq = ++next_seq_;
  }
  auto payload = encode(out);
  if (payload.size() > kMaxMessageBytes) {
    throw ProtocolError("message of " + std::to_string(payload.size()) +
                        " bytes exceeds the limit of " + std::to_string(kMaxMessageBytes));
  }
  return options_.auth ? options_.auth->seal(payload) : payload;
}

// Everything that needs no memory of earlier messages: any failure here leaves the guard as it
// was, whoever sent the bytes.
std::optional<Message> MessageGuard::check(int64_t sender, const std::string& wire, DropReason& why,
                                           std::string& what) {
  Message m;
  if (wire.size() > kMaxMessageBytes + 64) {
    why = DropReason::kMalformed;
    what = std::to_string(wire.size()) + " bytes exceed the limit";
    return std::nullopt;
  }
  std::string payload;
  try {
    payload = options_.auth ? options_.auth->open(wire, sender) : wire;
  } catch (const ProtocolError& e) {
    why = DropReason::kSignature;
    what = e.what();
    return std::nullopt;
  }
  try {
    m = decode(payload);
  } catch (const ProtocolError& e) {
    why = DropReason::kMalformed;
    what = e.what();
    return std::nullopt;
  }
  bool direction = server_sends(m.type) == (sender == 0);
  if (m.sender != sender || m.receiver != options_.self_id || !direction) {
    why = DropReason::kRoute;
    what = fmt::format("{} {} claims sender {} / receiver {} on the route of {}", to_string(m.type),
                       m.id, m.sender, m.receiver, role(sender));
    return std::nullopt;
  }
  if (m.run_id != options_.run_id) {
    why = DropReason::kOtherRun;
    what = fmt::format("{} {} belongs to run {}, this is run {}", to_string(m.type), m.id, m.run_id,
                       options_.run_id);
    return std::nullopt;
  }
  return m;
}

bool MessageGuard::remember_id_locked(const std::string& id) {
  if (!seen_ids_.insert(id).second) return false;
  seen_order_.push_back(id);
  if (seen_order_.size() > kSeenIds) {
    seen_ids_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  return true;
}

bool MessageGuard::accept_locked(const Message& m, DropReason& why, std::string& what) {
  if (seen_ids_.count(m.id)) {
    why = DropReason::kRepeat;
    what = fmt::format("a repeat of {} {}", to_string(m.type), m.id);
    return false;
  }
  // Unsigned over a network: a restarted party's numbers start again, nothing to order by.
  if (!options_.auth && !options_.ordered) return remember_id_locked(m.id);
  Mark& mark = marks_[m.sender];
  auto at = std::tie(m.session, m.seq);
  if (at > std::tie(mark.session, mark.seq)) {
    mark.session = m.session;
    mark.seq = m.seq;
    if (is_will(m)) std::tie(mark.will_session, mark.will_seq) = at;
    return remember_id_locked(m.id);
  }
  // A will was signed before what its silo sent since; it counts once, for the live session.
  if (is_will(m) && m.session >= mark.session && at > std::tie(mark.will_session, mark.will_seq)) {
    mark.will_session = m.session;
    mark.will_seq = m.seq;
    return remember_id_locked(m.id);
  }
  why = is_will(m) ? DropReason::kOldWill : DropReason::kReplay;
  what = fmt::format("{} {}: session {} seq {} is not above session {} seq {}", to_string(m.type),
                     m.id, m.session, m.seq, mark.session, mark.seq);
  return false;
}

std::optional<Message> MessageGuard::admit(int64_t sender, const std::string& wire) {
  DropReason why = DropReason::kMalformed;
  std::string what;
  auto m = check(sender, wire, why, what);
  std::lock_guard<std::mutex> lock(mu_);
  if (m && accept_locked(*m, why, what)) return m;
  drop_locked(sender, why, what);
  return std::nullopt;
}

void MessageGuard::drop(int64_t sender, DropReason reason, const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  drop_locked(sender, reason, what);
}

void MessageGuard::drop_locked(int64_t sender, DropReason reason, const std::string& raw) {
  // `raw` quotes what the sender wrote: bounded, and on one line, so it cannot forge log lines.
  std::string what = raw.substr(0, 300);
  for (char& c : what) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (raw.size() > what.size()) what += "...";
  ++totals_[reason];
  auto key = std::make_pair(sender, reason);
  if (!drops_.count(key) && drops_.size() >= kDropKeys) key.first = -1;
  auto& count = drops_[key];
  if (count.logged < static_cast<uint64_t>(options_.lines_per_reason)) {
    ++count.logged;
    // QoS 1 repeats are normal; everything else may be an attack and is worth a warning.
    if (reason == DropReason::kRepeat) {
      FS_LOG_INFO(options_.log, "dropping a message from {}: {}", role(sender), what);
    } else {
      FS_LOG_WARN(options_.log, "dropping a message from {} ({}): {}{}", role(sender),
                  to_string(reason), what,
                  count.logged == static_cast<uint64_t>(options_.lines_per_reason)
                      ? "; more such drops are counted and summarised"
                      : "");
    }
  } else {
    ++count.unlogged;
  }
}

// One line per reason and interval, naming the busiest senders: a flood on any number of
// topics costs a few lines a minute.
void MessageGuard::summarise_drops() {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - last_summary_ < options_.summary_interval) return;
  last_summary_ = now;
  std::map<DropReason, std::vector<std::pair<uint64_t, int64_t>>> by_reason;
  for (auto& [key, count] : drops_) {
    if (count.unlogged == 0) continue;
    by_reason[key.second].emplace_back(count.unlogged, key.first);
    count.unlogged = 0;
  }
  for (auto& [reason, senders] : by_reason) {
    std::sort(senders.rbegin(), senders.rend());
    uint64_t total = 0;
    std::vector<std::string> names;
    for (const auto& [n, sender] : senders) {
      total += n;
      if (names.size() < 5) names.push_back(fmt::format("{} x{}", role(sender), n));
    }
    FS_LOG_WARN(options_.log, "dropped {} more messages ({}) in the last {} s: {}{}", total,
                to_string(reason), options_.summary_interval.count(), fmt::join(names, ", "),
                senders.size() > names.size()
                    ? fmt::format(" and {} other senders", senders.size() - names.size())
                    : "");
  }
}

std::map<std::string, uint64_t> MessageGuard::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, uint64_t> out;
  for (const auto& [reason, n] : totals_) out[to_string(reason)] = n;
  return out;
}

}  // namespace fedsilo::comm
