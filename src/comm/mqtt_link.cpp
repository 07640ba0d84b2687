#include "comm/mqtt_link.h"

#include <mosquitto.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "core/log.h"
#include "fedsilo/error.h"

namespace fedsilo::comm {
namespace {

std::once_flag lib_once;

std::string role(int64_t id) { return id == 0 ? "server" : "silo " + std::to_string(id); }

}  // namespace

MqttLink::MqttLink(const MqttOptions& options, const std::string& run_id, int64_t self_id,
                   WillSource will)
    : options_(options),
      run_id_(run_id),
      self_(self_id),
      prefix_("fedsilo/" + run_id + "/"),
      log_(logging::role_logger(self_id == 0 ? "Server" : "Client", self_id)),
      will_(std::move(will)) {
  probe_topic_ = prefix_ + "probe/" + std::to_string(self_);
  std::call_once(lib_once, [] { mosquitto_lib_init(); });
  std::random_device rd;
  std::string client_id =
      fmt::format("fedsilo-{}-{}-{}-{:x}", run_id, self_id, ::getpid(), rd() & 0xffff);
  mosq_ = mosquitto_new(client_id.c_str(), /*clean_session=*/true, this);
  if (!mosq_) throw Error("mqtt: cannot create a client");
  // Nagle's algorithm against delayed ACKs costs ~40 ms per hop; control messages are tiny.
  mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_reconnect_delay_set(mosq_, 1, 4, true);
  mosquitto_connect_callback_set(mosq_, &MqttLink::on_connect);
  mosquitto_disconnect_callback_set(mosq_, &MqttLink::on_disconnect);
  mosquitto_subscribe_callback_set(mosq_, &MqttLink::on_subscribe);
  mosquitto_publish_callback_set(mosq_, &MqttLink::on_publish);
  mosquitto_message_callback_set(mosq_, &MqttLink::on_message);
  mosquitto_log_callback_set(mosq_, &MqttLink::on_log);
  if (!options_.user.empty()) {
    mosquitto_username_pw_set(mosq_, options_.user.c_str(),
                              options_.password.empty() ? nullptr : options_.password.c_str());
  }
  if (!options_.tls_ca_file.empty()) {
    int rc = mosquitto_tls_set(
        mosq_, options_.tls_ca_file.c_str(), nullptr,
        options_.tls_cert_file.empty() ? nullptr : options_.tls_cert_file.c_str(),
        options_.tls_key_file.empty() ? nullptr : options_.tls_key_file.c_str(), nullptr);
    if (rc != MOSQ_ERR_SUCCESS)
      throw ConfigError(std::string("mqtt: TLS setup failed: ") + mosquitto_strerror(rc));
    mosquitto_tls_insecure_set(mosq_, options_.tls_insecure);
  }
  set_will();
  int rc =
      mosquitto_connect_async(mosq_, options_.host.c_str(), options_.port, options_.keepalive_s);
  if (rc != MOSQ_ERR_SUCCESS) {
    // The loop thread keeps retrying; remember why for wait_connected().
    last_error_ = rc == MOSQ_ERR_ERRNO ? std::string(std::strerror(errno)) : mosquitto_strerror(rc);
  }
  rc = mosquitto_loop_start(mosq_);
  if (rc != MOSQ_ERR_SUCCESS) {
    mosquitto_destroy(mosq_);
    throw Error(std::string("mqtt: cannot start the network thread: ") + mosquitto_strerror(rc));
  }
}

MqttLink::~MqttLink() {
  mosquitto_disconnect(mosq_);
  bool ever = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ever = ever_subscribed_;
  }
  // Never connected: nothing to deliver, and libmosquitto's TLS reconnect loop can take ~1 min
  // to notice the disconnect (the process said it gave up long before): cancel its thread.
  mosquitto_loop_stop(mosq_, /*force=*/!ever);
  mosquitto_destroy(mosq_);
}

// A will is sealed like any message, so it carries this session and a sequence number; sealing
// it again before each reconnect gives every will the broker may publish its own number, which
// the server takes once (MessageGuard).
void MqttLink::set_will() {
  if (!will_) return;
  auto payload = will_();
  auto topic = topic_for(0);
  mosquitto_will_set(mosq_, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1,
                     false);
}

std::string MqttLink::topic_for(int64_t to) const {
  if (to != 0) return prefix_ + "s2c/" + std::to_string(to);
  return prefix_ + "c2s/" + std::to_string(self_);
}

void MqttLink::on_connect(mosquitto* mosq, void* self, int rc) {
  auto* t = static_cast<MqttLink*>(self);
  if (rc != 0) {
    {
      std::lock_guard<std::mutex> lock(t->mu_);
      t->last_error_ = mosquitto_connack_string(rc);
      // Wrong credentials or no permission will not fix themselves by retrying: say so now
      // instead of at the end of online_timeout_s. (4 and 5 are MQTT 3.1.1's CONNACK codes.)
      if (rc == 4 || rc == 5) {
        t->refused_ = true;
        t->refusal_hint_ =
            "check MQTT_USER and MQTT_PWD (or FEDSILO_MQTT_USER / FEDSILO_MQTT_PASSWORD) and the "
            "broker's ACL";
      }
    }
    FS_LOG_ERROR(t->log_, "mqtt: broker {}:{} refused the connection: {}", t->options_.host,
                 t->options_.port, mosquitto_connack_string(rc));
    t->cv_.notify_all();
    return;
  }
  std::vector<std::string> topics = {t->probe_topic_};
  if (t->self_ == 0) {
    topics.push_back(t->prefix_ + "c2s/+");
  } else {
    topics.push_back(t->prefix_ + "s2c/" + std::to_string(t->self_));
  }
  std::vector<char*> ptrs;
  for (auto& s : topics) ptrs.push_back(s.data());
  int mid = 0;
  int r = mosquitto_subscribe_multiple(mosq, &mid, static_cast<int>(ptrs.size()), ptrs.data(), 1, 0,
                                       nullptr);
  std::lock_guard<std::mutex> lock(t->mu_);
  t->subscribe_mid_ = mid;
  if (r != MOSQ_ERR_SUCCESS)
    t->last_error_ = std::string("subscribe failed: ") + mosquitto_strerror(r);
}

// libmosquitto reports a failed TLS handshake only through its log. A certificate the other side
// rejects (unknown CA, wrong host name, expired, none presented) will fail the same way on every
// retry, so it ends the wait at once; other TLS errors (a reset mid-handshake) are retried.
void MqttLink::on_log(mosquitto*, void* self, int level, const char* text) {
  if (level != MOSQ_LOG_ERR || !text) return;
  auto* t = static_cast<MqttLink*>(self);
  std::string line = text;
  bool certificate = line.find("OpenSSL Error") != std::string::npos &&
                     (line.find("certificate") != std::string::npos ||
                      line.find("wrong version number") != std::string::npos ||
                      line.find("unknown ca") != std::string::npos);
  {
    std::lock_guard<std::mutex> lock(t->mu_);
    if (!t->refused_) t->last_error_ = line;
    if (certificate && !t->refused_) {
      t->refused_ = true;
      t->refusal_hint_ =
          "TLS failed: check MQTT_TLS_CA, MQTT_TLS_CERT and MQTT_TLS_KEY, that BROKER_HOST is a "
          "name in the broker's certificate, and that BROKER_PORT is the broker's TLS port";
    }
  }
  FS_LOG_ERROR(t->log_, "mqtt: broker {}:{}: {}", t->options_.host, t->options_.port, line);
  if (certificate) t->cv_.notify_all();
}

void MqttLink::on_disconnect(mosquitto*, void* self, int rc) {
  auto* t = static_cast<MqttLink*>(self);
  {
    std::lock_guard<std::mutex> lock(t->mu_);
    t->subscribed_ = false;
    for (auto& p : t->outbox_) p.mid = -1;  // unacknowledged: publish again after reconnecting
    t->early_acks_.clear();
    if (rc != 0) t->last_error_ = "connection lost";
  }
  if (rc != 0) {
    FS_LOG_WARN(t->log_, "mqtt: lost the broker {}:{}; reconnecting", t->options_.host,
                t->options_.port);
    t->set_will();  // in the network thread, before it reconnects
  }
}

void MqttLink::on_subscribe(mosquitto*, void* self, int mid, int, const int*) {
  auto* t = static_cast<MqttLink*>(self);
  bool again = false;
  {
    std::lock_guard<std::mutex> lock(t->mu_);
    if (mid != t->subscribe_mid_) return;
    again = t->ever_subscribed_;
    t->subscribed_ = t->ever_subscribed_ = true;
    t->last_error_.clear();
  }
  if (again) {
    FS_LOG_INFO(t->log_, "mqtt: reconnected to {}:{} and subscribed again", t->options_.host,
                t->options_.port);
    t->reconnected_ = true;
  } else {
    FS_LOG_INFO(t->log_, "mqtt: connected to {}:{} as {}", t->options_.host, t->options_.port,
                role(t->self_));
  }
  t->publish_pending();
  t->cv_.notify_all();
}

void MqttLink::on_publish(mosquitto*, void* self, int mid) {
  auto* t = static_cast<MqttLink*>(self);
  std::lock_guard<std::mutex> lock(t->mu_);
  for (auto it = t->outbox_.begin(); it != t->outbox_.end(); ++it) {
    if (it->mid == mid) {
      t->outbox_.erase(it);
      t->cv_.notify_all();
      return;
    }
  }
  t->early_acks_.insert(mid);  // acknowledged before send() recorded the mid
}

void MqttLink::on_message(mosquitto*, void* self, const mosquitto_message* msg) {
  auto* t = static_cast<MqttLink*>(self);
  t->handle_incoming(
      msg->topic ? msg->topic : "",
      std::string(static_cast<const char*>(msg->payload), static_cast<size_t>(msg->payloadlen)));
}

void MqttLink::handle_incoming(const std::string& topic, const std::string& wire) {
  if (wire.empty()) return;  // a retained message being cleared (clear_retained)
  if (topic == probe_topic_) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!probe_waiting_.empty() && wire == probe_waiting_) probe_back_ = true;
    cv_.notify_all();
    return;
  }
  // The topic says who may have sent it (a broker ACL enforces that); the guard above checks
  // that the signature and the body agree. Topic ids are canonical decimal ("01" is not silo 1).
  auto slash = topic.rfind('/');
  std::string topic_id = slash == std::string::npos ? "" : topic.substr(slash + 1);
  Parcel parcel{0, wire, ""};
  if (self_ == 0) {
    bool canonical = !topic_id.empty() && topic_id.size() <= 9 && topic_id[0] != '0' &&
                     topic_id.find_first_not_of("0123456789") == std::string::npos;
    if (canonical) {
      parcel.from = std::stoll(topic_id);
    } else {
      parcel = Parcel{-1, "", "topic " + topic + " names no silo"};
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.push_back(std::move(parcel));
  }
  cv_.notify_all();
}

void MqttLink::publish_one(uint64_t seq) {
  std::string topic, payload;
  bool retain = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(outbox_.begin(), outbox_.end(),
                           [&](const Pending& p) { return p.seq == seq; });
    if (it == outbox_.end() || it->mid != -1 || !subscribed_) return;
    topic = it->topic;
    payload = it->payload;
    retain = it->retain;
  }
  int mid = 0;
  int rc = mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                             payload.data(), 1, retain);
  std::lock_guard<std::mutex> lock(mu_);
  auto it =
      std::find_if(outbox_.begin(), outbox_.end(), [&](const Pending& p) { return p.seq == seq; });
  if (it == outbox_.end()) return;
  if (rc != MOSQ_ERR_SUCCESS) return;  // stays queued; the next (re)connect publishes it
  if (early_acks_.erase(mid)) {
    outbox_.erase(it);
    cv_.notify_all();
  } else {
    it->mid = mid;
  }
}

void MqttLink::publish_pending() {
  std::lock_guard<std::mutex> order(publish_mu_);
  std::vector<uint64_t> seqs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& p : outbox_) {
      if (p.mid == -1) seqs.push_back(p.seq);
    }
  }
  for (auto s : seqs) publish_one(s);
}

// An empty retained message is MQTT's way to delete the one kept; receivers skip it.
void MqttLink::clear_retained(int64_t to) { send(to, "", true); }

void MqttLink::send(int64_t to, std::string bytes, bool retain) {
  std::lock_guard<std::mutex> order(publish_mu_);
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seq = next_seq_++;
    outbox_.push_back({seq, topic_for(to), std::move(bytes), -1, retain});
  }
  publish_one(seq);
}

std::optional<Parcel> MqttLink::receive(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !inbox_.empty(); })) return std::nullopt;
  Parcel p = std::move(inbox_.front());
  inbox_.pop_front();
  return p;
}

void MqttLink::connect(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  bool ready = cv_.wait_for(lock, timeout, [&] { return subscribed_ || refused_; });
  if (refused_) {
    throw ConfigError(fmt::format("mqtt: the broker {}:{} refused the connection ({}); {}",
                                  options_.host, options_.port, last_error_, refusal_hint_));
  }
  if (!ready) {
    throw TimeoutError(fmt::format("mqtt: could not connect to the broker {}:{} within {} s{}",
                                   options_.host, options_.port, timeout.count() / 1000.0,
                                   last_error_.empty() ? "" : " (" + last_error_ + ")"));
  }
  lock.unlock();
  if (!round_trip_ms_) measure_broker_round_trip();
}

bool MqttLink::flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return outbox_.empty(); });
}

}  // namespace fedsilo::comm
