#include "client/silo_heartbeat.h"

#include <time.h>

#include <algorithm>

namespace fedsilo::cross_silo {

SiloHeartbeat::SiloHeartbeat(comm::Transport& transport, std::chrono::milliseconds interval,
                             std::function<int64_t()> bytes_moved)
    : transport_(transport), interval_(interval), bytes_moved_(std::move(bytes_moved)) {
  thread_ = std::thread([this] { run(); });
}

SiloHeartbeat::~SiloHeartbeat() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SiloHeartbeat::busy(comm::Message base) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    base_ = std::move(base);
    ++generation_;
  }
  cv_.notify_all();
}

void SiloHeartbeat::idle() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    base_.reset();
    ++generation_;
  }
  cv_.notify_all();
}

int64_t SiloHeartbeat::sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sent_;
}

std::chrono::milliseconds SiloHeartbeat::interval_for(const Args& args) {
  return std::max(
      std::chrono::milliseconds(50),
      std::chrono::milliseconds(static_cast<int64_t>(args.resend_interval_s * 1000 / 3)));
}

double SiloHeartbeat::process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void SiloHeartbeat::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (!base_) {
      cv_.wait(lock, [&] { return stop_ || base_.has_value(); });
      continue;
    }
    uint64_t gen = generation_;
    if (cv_.wait_for(lock, interval_, [&] { return stop_ || generation_ != gen; })) continue;
    comm::Message m = *base_;
    int64_t n = ++sent_;
    lock.unlock();
    m.id += "-alive" + std::to_string(n);
    m.metrics = {{"bytes_moved", bytes_moved_()}, {"cpu_s", process_cpu_seconds()}};
    m.sent_at_us = comm::now_us();
    try {
      transport_.send(m);
    } catch (const std::exception&) {
      // A heartbeat that cannot go out is simply missed; the server judges the silence.
    }
    lock.lock();
  }
}

}  // namespace fedsilo::cross_silo
