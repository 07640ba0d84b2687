#include "run/run_monitoring.h"

#include "comm/message.h"

#include <spdlog/sinks/base_sink.h>

#include <cstdlib>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "core/signals.h"
#include "monitor/system_metrics.h"

namespace fedsilo::cross_silo {

namespace {

// Copies warnings and errors into the RunStatus for the dashboard's log panel.
class StatusSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit StatusSink(std::shared_ptr<monitor::RunStatus> status) : status_(std::move(status)) {
    set_level(spdlog::level::warn);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    auto level = spdlog::level::to_string_view(msg.level);
    status_->log_line(std::string(level.data(), level.size()),
                      std::string(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}

 private:
  std::shared_ptr<monitor::RunStatus> status_;
};

std::optional<double> number(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  double v = it->get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

}  // namespace

RunMonitoring::RunMonitoring(const Args& args) : linger_s_(args.dashboard_linger_s) {
  if (args.dashboard_port != 0) {
    status_ =
        std::make_shared<monitor::RunStatus>(args.run_id, args.comm_round, args.client_id_list);
    monitor::DashboardOptions o;
    o.address = args.dashboard_address;
    o.port = static_cast<int>(args.dashboard_port);
    if (const char* t = std::getenv("FEDSILO_DASHBOARD_TOKEN")) o.token = t;
    dashboard_ = std::make_unique<monitor::DashboardServer>(status_, o);
    log_sink_ = std::make_shared<StatusSink>(status_);
    logging::add_sink(log_sink_);
    FS_LOG_INFO(logging::role_logger("Server", 0), "dashboard: {} (also /api/status, /metrics)",
                dashboard_->url());
  }
  if (!args.tensorboard_dir.empty())
    tensorboard_ = std::make_unique<monitor::TensorBoardWriter>(args.tensorboard_dir);
}

RunMonitoring::~RunMonitoring() {
  if (log_sink_) logging::remove_sink(log_sink_);
}

void RunMonitoring::set_state(const std::string& state) {
  if (status_) status_->set_state(state);
}

void RunMonitoring::resumed(int64_t rounds_done) {
  if (status_) status_->resumed(rounds_done);
}

void RunMonitoring::round_started(int64_t round, const std::vector<int64_t>& asked) {
  if (!status_) return;
  status_->set_state("training");
  status_->round_started(round);
  for (int64_t silo : asked) status_->silo_state(silo, monitor::SiloState::kTraining);
}

void RunMonitoring::silo_seen(int64_t silo) {
  if (status_) status_->silo_seen(silo);
}

void RunMonitoring::silo_offline(int64_t silo) {
  if (status_) status_->silo_state(silo, monitor::SiloState::kOffline);
}

void RunMonitoring::silo_progress(int64_t silo, int64_t round, const std::string& status) {
  if (!status_) return;
  if (status == comm::Status::kTraining)
    status_->silo_progress(silo, round, monitor::SiloState::kTraining);
  if (status == comm::Status::kUploading)
    status_->silo_progress(silo, round, monitor::SiloState::kUploading);
}

void RunMonitoring::silo_reported(int64_t round, const SiloRoundStats& s, int64_t bytes_moved) {
  if (!status_) return;
  monitor::SiloReport r;
  r.round = round;
  r.train_ms = number(s.reported, "train_ms").value_or(0);
  r.transfer_ms =
      number(s.reported, "download_ms").value_or(0) + number(s.reported, "upload_ms").value_or(0);
  r.bytes = bytes_moved;
  r.rejected = !s.rejected.empty();
  if (s.reported.contains("system"))
    r.system = monitor::sanitize_system_metrics(s.reported["system"]);
  status_->silo_reported(s.silo, r);
}

void RunMonitoring::round_finished(const RoundStats& stats, int64_t bytes_up, int64_t bytes_down) {
  if (!status_ && !tensorboard_) return;
  monitor::RoundPoint p;
  p.round = stats.round;
  p.round_s = stats.round_ms / 1000.0;
  p.test_acc = number(stats.metrics, "test_acc");
  p.test_loss = number(stats.metrics, "test_loss");
  // The server's evaluation on the training data, as in report.html; the silos' own figures
  // from local training go to TensorBoard apart.
  p.train_acc = number(stats.metrics, "train_acc");
  p.train_loss = number(stats.metrics, "train_loss");
  double weight = 0, acc = 0, loss = 0;
  for (const auto& s : stats.silos) {
    auto a = number(s.reported, "train_acc"), l = number(s.reported, "train_loss");
    if (!s.rejected.empty() || !a || !l || s.num_samples <= 0) continue;
    weight += s.num_samples;
    acc += *a * s.num_samples;
    loss += *l * s.num_samples;
  }

  if (status_) {
    for (const auto& [silo, why] : stats.dropped) {
      (void)why;
      status_->silo_state(silo, monitor::SiloState::kDropped);
    }
    status_->round_finished(p, bytes_up, bytes_down);
  }
  if (tensorboard_) {
    auto& tb = *tensorboard_;
    if (p.test_acc) tb.scalar("test/accuracy", *p.test_acc, p.round);
    if (p.test_loss) tb.scalar("test/loss", *p.test_loss, p.round);
    if (p.train_acc) tb.scalar("train/accuracy", *p.train_acc, p.round);
    if (p.train_loss) tb.scalar("train/loss", *p.train_loss, p.round);
    if (weight > 0) {
      tb.scalar("local/train_accuracy", acc / weight, p.round);
      tb.scalar("local/train_loss", loss / weight, p.round);
    }
    tb.scalar("round/seconds", p.round_s, p.round);
    for (const auto& s : stats.silos) {
      if (auto t = number(s.reported, "train_ms"))
        tb.scalar("silo_" + std::to_string(s.silo) + "/train_seconds", *t / 1000.0, p.round);
    }
  }
}

void RunMonitoring::linger() {
  if (!dashboard_ || linger_s_ <= 0) return;
  auto log = logging::role_logger("Server", 0);
  FS_LOG_INFO(log,
              "dashboard: showing the final state at {} for {} s (tracking_args."
              "dashboard_linger_s); Ctrl-C ends it",
              dashboard_->url(), linger_s_);
  auto end = std::chrono::steady_clock::now() + seconds_to_duration(linger_s_);
  while (std::chrono::steady_clock::now() < end && pending_signal() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polls for a signal
}

}  // namespace fedsilo::cross_silo
