#pragma once
// A Link over MQTT (libmosquitto), QoS 1, one silo id per topic so a broker ACL can confine
// each silo to its own topics:
//   fedsilo/<run_id>/s2c/<silo>     server -> silo k   (silo k subscribes to its own only)
//   fedsilo/<run_id>/c2s/<silo>     silo k -> server   (and silo k's last will)
// Routing looks only at sender and receiver, never at what a message says.
// The network loop runs in libmosquitto's thread and only queues; the owner takes parcels with
// receive(). Bytes stay in an outbox until the broker acknowledges them and are published again
// after a reconnect; the receiver's guard drops repeats by message id.
#include <spdlog/logger.h>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "comm/link.h"
#include "comm/mqtt_options.h"

struct mosquitto;
struct mosquitto_message;

namespace fedsilo::comm {

class MqttLink : public Link {
 public:
  // self_id 0 = the server; k = silo k. `will`, when given, makes what the broker publishes for
  // this endpoint if it vanishes without a clean disconnect; it is asked again before every
  // reconnect, in the network thread.
  MqttLink(const MqttOptions& options, const std::string& run_id, int64_t self_id,
           WillSource will = nullptr);
  ~MqttLink() override;

  void send(int64_t to, std::string bytes, bool retain) override;
  void clear_retained(int64_t to) override;
  std::optional<Parcel> receive(std::chrono::milliseconds timeout) override;

  // Connected means subscribed too, so nothing addressed to us is missed.
  void connect(std::chrono::milliseconds timeout) override;
  bool take_reconnected() override { return reconnected_.exchange(false); }
  // The broker's round trip measured at the first connect (median of a few probes on this
  // endpoint's own probe topic), when the broker let the probes through.
  std::optional<double> broker_round_trip_ms() const { return round_trip_ms_; }
  // Everything sent has been acknowledged by the broker.
  bool flush(std::chrono::milliseconds timeout) override;
  // The topic of bytes for endpoint `to` (the server: this silo's c2s topic).
  std::string topic_for(int64_t to) const;

 private:
  struct Pending {
    uint64_t seq;
    std::string topic;
    std::string payload;
    int mid;  // -1: not handed to the broker connection yet
    bool retain = false;
  };
  static void on_connect(mosquitto*, void*, int rc);
  static void on_disconnect(mosquitto*, void*, int rc);
  static void on_subscribe(mosquitto*, void*, int mid, int, const int*);
  static void on_publish(mosquitto*, void*, int mid);
  static void on_message(mosquitto*, void*, const mosquitto_message*);
  static void on_log(mosquitto*, void*, int level, const char* text);
  void handle_incoming(const std::string& topic, const std::string& payload);
  void measure_broker_round_trip();
  void set_will();
  void publish_pending();
  void publish_one(uint64_t seq);

  MqttOptions options_;
  std::string run_id_;
  int64_t self_;
  std::string prefix_;
  mosquitto* mosq_ = nullptr;
  std::shared_ptr<spdlog::logger> log_;

  std::mutex mu_;
  // Held from queueing bytes to handing them to libmosquitto: they reach the broker in the
  // order sent.
  std::mutex publish_mu_;
  std::condition_variable cv_;
  std::deque<Parcel> inbox_;
  std::list<Pending> outbox_;
  std::set<int> early_acks_;
  uint64_t next_seq_ = 0;  // the outbox's order, not the messages' sequence numbers
  WillSource will_;
  bool subscribed_ = false;
  std::string probe_topic_;    // <prefix>probe/<self>: only this endpoint reads and writes it
  std::string probe_waiting_;  // the probe payload on its way through the broker
  bool probe_back_ = false;
  std::optional<double> round_trip_ms_;
  bool refused_ = false;      // the broker rejected our credentials: retrying cannot help
  std::string refusal_hint_;  // what to check when refused_
  bool ever_subscribed_ = false;
  int subscribe_mid_ = -1;
  std::string last_error_;
  std::atomic<bool> reconnected_{false};
};

}  // namespace fedsilo::comm
