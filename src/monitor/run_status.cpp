#include "monitor/run_status.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace fedsilo::monitor {

namespace {
constexpr size_t kLogLines = 50;
constexpr size_t kEtaWindow = 10;  // rounds the ETA averages over

// Heard from and not gone: what "online" counts on the page and in /metrics.
bool connected(SiloState s) { return s != SiloState::kWaiting && s != SiloState::kOffline; }

double unix_s(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}
}  // namespace

const char* to_string(SiloState s) {
  switch (s) {
    case SiloState::kWaiting:
      return "waiting";
    case SiloState::kOnline:
      return "online";
    case SiloState::kTraining:
      return "training";
    case SiloState::kUploading:
      return "uploading";
    case SiloState::kOffline:
      return "offline";
    case SiloState::kDropped:
      return "dropped";
  }
  return "unknown";
}

const std::vector<double>& RunStatus::duration_buckets() {
  static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                        1,     2.5,  5,     10,   30,  60,   300};
  return b;
}

RunStatus::RunStatus(std::string run_id, int64_t total_rounds, const std::vector<int>& silos)
    : run_id_(std::move(run_id)),
      total_rounds_(total_rounds),
      started_(std::chrono::system_clock::now()),
      duration_counts_(duration_buckets().size() + 1, 0) {
  for (int id : silos) silos_[id];
}

RunStatus::Silo& RunStatus::silo(int64_t id) {
  auto& s = silos_[id];
  s.last_seen = std::chrono::system_clock::now();
  return s;
}

void RunStatus::set_state(const std::string& state) {
  std::lock_guard<std::mutex> l(mu_);
  state_ = state;
  bool over = state.rfind("completed", 0) == 0 || state.rfind("aborted", 0) == 0 ||
              state.rfind("failed", 0) == 0;
  if (over && !ended_) ended_ = std::chrono::system_clock::now();
}

void RunStatus::resumed(int64_t rounds_done) {
  std::lock_guard<std::mutex> l(mu_);
  rounds_completed_ = rounds_done;
  round_ = rounds_done - 1;
}

void RunStatus::round_started(int64_t round) {
  std::lock_guard<std::mutex> l(mu_);
  round_ = round;
}

void RunStatus::silo_state(int64_t id, SiloState s) {
  std::lock_guard<std::mutex> l(mu_);
  if (s == SiloState::kOffline || s == SiloState::kDropped) {
    auto& x = silos_[id];  // said by the server, not a sign of life from the silo
    // A silo dropped because it went offline is still offline.
    if (!(s == SiloState::kDropped && x.state == SiloState::kOffline)) x.state = s;
    return;
  }
  silo(id).state = s;
}

void RunStatus::silo_seen(int64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  auto& x = silo(id);
  if (x.state == SiloState::kWaiting || x.state == SiloState::kOffline)
    x.state = SiloState::kOnline;
}

void RunStatus::silo_progress(int64_t id, int64_t round, SiloState s) {
  std::lock_guard<std::mutex> l(mu_);
  auto& x = silo(id);
  if (round > x.last_reported_round && round == round_) x.state = s;
}

void RunStatus::silo_reported(int64_t id, const SiloReport& r) {
  std::lock_guard<std::mutex> l(mu_);
  auto& x = silo(id);
  x.state = SiloState::kOnline;
  x.last_reported_round = std::max(x.last_reported_round, r.round);
  if (!r.rejected) ++x.rounds_contributed;
  x.last_train_ms = r.train_ms;
  x.last_transfer_ms = r.transfer_ms;
  x.train_s_total += r.train_ms / 1000.0;
  x.bytes += r.bytes;
  if (!r.system.empty()) x.system = r.system;
}

void RunStatus::round_finished(const RoundPoint& p, int64_t bytes_up, int64_t bytes_down) {
  std::lock_guard<std::mutex> l(mu_);
  ++rounds_completed_;
  curve_.push_back(p);
  const auto& b = duration_buckets();
  size_t i = std::lower_bound(b.begin(), b.end(), p.round_s) - b.begin();
  ++duration_counts_[i];
  duration_sum_s_ += p.round_s;
  ++duration_count_;
  bytes_up_ += bytes_up;
  bytes_down_ += bytes_down;
  if (p.test_acc) last_test_acc_ = p.test_acc;
  if (p.test_loss) last_test_loss_ = p.test_loss;
}

void RunStatus::log_line(const std::string& level, const std::string& text) {
  std::lock_guard<std::mutex> l(mu_);
  log_.push_back({{"time", unix_s(std::chrono::system_clock::now())},
                  {"level", level},
                  {"text", text.substr(0, 2000)}});
  while (log_.size() > kLogLines) log_.pop_front();
}

nlohmann::json RunStatus::snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  auto now = std::chrono::system_clock::now();
  auto opt = [](const std::optional<double>& v) -> nlohmann::json {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  nlohmann::json silos = nlohmann::json::array();
  int64_t online = 0;
  for (const auto& [id, s] : silos_) {
    online += connected(s.state) ? 1 : 0;
    silos.push_back(
        {{"silo", id},
         {"state", to_string(s.state)},
         {"last_seen_s_ago",
          s.last_seen ? nlohmann::json(std::chrono::duration<double>(now - *s.last_seen).count())
                      : nlohmann::json(nullptr)},
         {"rounds_contributed", s.rounds_contributed},
         {"last_train_ms", s.last_train_ms},
         {"last_transfer_ms", s.last_transfer_ms},
         {"bytes_moved", s.bytes},
         {"system", s.system}});
  }
  nlohmann::json curve = nlohmann::json::array();
  for (const auto& p : curve_) {
    curve.push_back({{"round", p.round},
                     {"round_s", p.round_s},
                     {"test_acc", opt(p.test_acc)},
                     {"test_loss", opt(p.test_loss)},
                     {"train_acc", opt(p.train_acc)},
                     {"train_loss", opt(p.train_loss)}});
  }
  nlohmann::json eta = nullptr;
  if (!ended_ && !curve_.empty() && rounds_completed_ < total_rounds_) {
    size_t n = std::min(kEtaWindow, curve_.size());
    double sum = std::accumulate(curve_.end() - n, curve_.end(), 0.0,
                                 [](double a, const RoundPoint& p) { return a + p.round_s; });
    eta = sum / n * static_cast<double>(total_rounds_ - rounds_completed_);
  }
  auto end = ended_ ? *ended_ : now;
  return {{"run_id", run_id_},
          {"state", state_},
          {"finished", ended_.has_value()},
          {"round", round_},
          {"rounds_completed", rounds_completed_},
          {"total_rounds", total_rounds_},
          {"eta_s", eta},
          {"elapsed_s", std::chrono::duration<double>(end - started_).count()},
          {"silos_online", online},
          {"test_acc", opt(last_test_acc_)},
          {"test_loss", opt(last_test_loss_)},
          {"bytes_uploaded", bytes_up_},
          {"bytes_downloaded", bytes_down_},
          {"silos", std::move(silos)},
          {"curve", std::move(curve)},
          {"log", nlohmann::json(log_)}};
}

void RunStatus::set_dropped_messages_source(CountSource source) {
  std::lock_guard<std::mutex> l(source_mu_);
  dropped_source_ = std::move(source);
}

std::string RunStatus::prometheus() const {
  CountSource source;
  {
    std::lock_guard<std::mutex> l(source_mu_);
    source = dropped_source_;
  }
  auto dropped = source ? source() : std::map<std::string, uint64_t>{};
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  metric("fedsilo_messages_dropped_total", "counter",
         "Messages the server dropped before use (forged, replayed, malformed...), by reason.");
  for (const auto& [reason, n] : dropped)
    out += fmt::format("fedsilo_messages_dropped_total{{reason=\"{}\"}} {}\n", reason, n);
  metric("fedsilo_rounds_completed_total", "counter", "Rounds aggregated in this run.");
  out += fmt::format("fedsilo_rounds_completed_total {}\n", rounds_completed_);
  metric("fedsilo_round_duration_seconds", "histogram",
         "Time from a round's requests to its aggregate, in this server process.");
  uint64_t cumulative = 0;
  const auto& b = duration_buckets();
  for (size_t i = 0; i < b.size(); ++i) {
    cumulative += duration_counts_[i];
    out += fmt::format("fedsilo_round_duration_seconds_bucket{{le=\"{}\"}} {}\n", b[i], cumulative);
  }
  out += fmt::format("fedsilo_round_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", duration_count_);
  out += fmt::format("fedsilo_round_duration_seconds_sum {}\n", duration_sum_s_);
  out += fmt::format("fedsilo_round_duration_seconds_count {}\n", duration_count_);
  metric("fedsilo_bytes_uploaded_total", "counter",
         "Model bytes the server put in the object store.");
  out += fmt::format("fedsilo_bytes_uploaded_total {}\n", bytes_up_);
  metric("fedsilo_bytes_downloaded_total", "counter",
         "Model bytes the server read from the object store.");
  out += fmt::format("fedsilo_bytes_downloaded_total {}\n", bytes_down_);
  int64_t online = 0;
  for (const auto& [id, s] : silos_) online += connected(s.state) ? 1 : 0;
  metric("fedsilo_silos_online", "gauge", "Silos connected to the run.");
  out += fmt::format("fedsilo_silos_online {}\n", online);
  metric("fedsilo_silos", "gauge", "Silos in client_id_list.");
  out += fmt::format("fedsilo_silos {}\n", silos_.size());
  if (last_test_acc_) {
    metric("fedsilo_test_accuracy", "gauge", "Test accuracy of the last evaluated round.");
    out += fmt::format("fedsilo_test_accuracy {}\n", *last_test_acc_);
  }
  if (last_test_loss_) {
    metric("fedsilo_test_loss", "gauge", "Test loss of the last evaluated round.");
    out += fmt::format("fedsilo_test_loss {}\n", *last_test_loss_);
  }
  metric("fedsilo_silo_train_seconds", "gauge", "The silo's last local training time.");
  for (const auto& [id, s] : silos_)
    out += fmt::format("fedsilo_silo_train_seconds{{silo=\"{}\"}} {}\n", id, s.last_train_ms / 1e3);
  metric("fedsilo_silo_train_seconds_total", "counter", "The silo's local training time, summed.");
  for (const auto& [id, s] : silos_)
    out += fmt::format("fedsilo_silo_train_seconds_total{{silo=\"{}\"}} {}\n", id, s.train_s_total);
  metric("fedsilo_silo_rounds_contributed_total", "counter",
         "Rounds whose aggregate includes the silo's update.");
  for (const auto& [id, s] : silos_)
    out += fmt::format("fedsilo_silo_rounds_contributed_total{{silo=\"{}\"}} {}\n", id,
                       s.rounds_contributed);
  metric("fedsilo_silo_up", "gauge", "1 when the silo is connected, else 0.");
  for (const auto& [id, s] : silos_)
    out += fmt::format("fedsilo_silo_up{{silo=\"{}\"}} {}\n", id, connected(s.state) ? 1 : 0);
  metric("fedsilo_silo_rss_bytes", "gauge", "The silo master process's resident memory.");
  for (const auto& [id, s] : silos_) {
    if (s.system.contains("rss_mib"))
      out += fmt::format("fedsilo_silo_rss_bytes{{silo=\"{}\"}} {:.0f}\n", id,
                         s.system["rss_mib"].get<double>() * (1 << 20));
  }
  metric("fedsilo_silo_cpu_percent", "gauge",
         "The silo master process's CPU use over its last round (100 = one core).");
  for (const auto& [id, s] : silos_) {
    if (s.system.contains("cpu_percent"))
      out += fmt::format("fedsilo_silo_cpu_percent{{silo=\"{}\"}} {}\n", id,
                         s.system["cpu_percent"].get<double>());
  }
  return out;
}

}  // namespace fedsilo::monitor
