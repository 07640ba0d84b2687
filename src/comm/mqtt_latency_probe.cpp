// MqttLink's broker round-trip probe, kept apart from the message path it measures.
#include <mosquitto.h>

#include <algorithm>
#include <random>

#include "comm/mqtt_link.h"
#include "core/log.h"

namespace fedsilo::comm {

// Every control message crosses the broker twice; a broker that delays small packets (Nagle's
// algorithm meeting delayed ACKs, ~40 ms a hop) makes a 4 ms round 40 ms and nothing else says
// why. Measured once, at connect, on a topic only this endpoint uses.
void MqttLink::measure_broker_round_trip() {
  constexpr int kProbes = 5;
  constexpr auto kWait = std::chrono::milliseconds(300);
  std::vector<double> ms;
  std::random_device rd;
  for (int i = 0; i < kProbes; ++i) {
    std::string payload = fmt::format("probe-{:08x}{:08x}", rd(), rd());
    {
      std::lock_guard<std::mutex> lock(mu_);
      probe_waiting_ = payload;
      probe_back_ = false;
    }
    auto t0 = std::chrono::steady_clock::now();
    if (mosquitto_publish(mosq_, nullptr, probe_topic_.c_str(), static_cast<int>(payload.size()),
                          payload.data(), 1, false) != MOSQ_ERR_SUCCESS)
      break;
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, kWait, [&] { return probe_back_; })) break;
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    probe_waiting_.clear();
  }
  if (ms.empty()) {
    FS_LOG_INFO(log_,
                "mqtt: the broker's round trip is not measured: no probe came back on {} within "
                "{} ms (does the broker's ACL allow it?)",
                probe_topic_, kWait.count());
    return;
  }
  std::sort(ms.begin(), ms.end());
  round_trip_ms_ = ms[ms.size() / 2];
  if (*round_trip_ms_ > options_.latency_warn_ms) {
    FS_LOG_WARN(log_,
                "mqtt: a round trip through the broker {}:{} takes {:.1f} ms (median of {}), above "
                "{:.0f} ms; every round crosses it several times. On a LAN this is usually a "
                "broker without `set_tcp_nodelay true` in mosquitto.conf (docs/deployment.md, "
                "\"The broker\"); across a WAN it is the network's latency",
                options_.host, options_.port, *round_trip_ms_, ms.size(), options_.latency_warn_ms);
  } else {
    FS_LOG_INFO(log_, "mqtt: broker round trip {:.2f} ms (median of {})", *round_trip_ms_,
                ms.size());
  }
}

}  // namespace fedsilo::comm
