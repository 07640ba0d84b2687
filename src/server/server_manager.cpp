#include "server/server_manager.h"

#include <torch/torch.h>

#include "core/args_json.h"
#include "core/log.h"
#include "fedsilo/error.h"
#include "ml/attacks.h"
#include "ml/model_blob.h"
#include "monitor/system_metrics.h"
#include "protocol/blob_keys.h"
#include "protocol/model_exchange.h"
#include "protocol/selection.h"

namespace fedsilo::cross_silo {
using comm::Message;
using comm::MsgType;

ServerManager::ServerManager(const Args& args, Model model, comm::Transport& transport,
                             comm::ObjectStore& store, Evaluator evaluate,
                             std::unique_ptr<Aggregator> aggregator, Clock& clock)
    : args_(args),
      model_(std::move(model)),
      transport_(transport),
      store_(store),
      evaluate_(std::move(evaluate)),
      clock_(clock),
      recorder_(args),
      monitoring_(std::make_unique<RunMonitoring>(args)),
      checkpoint_(args.run_output_dir()),
      log_(logging::role_logger("Server", 0)),
      ids_(0) {
  layout_ = layout_of(state_of(model_.module()));
  run_config_ = args_to_json(args_);
  run_config_.erase("run");
  events_.subscribe(recorder_);
  events_.subscribe(*monitoring_);
  if (!aggregator) aggregator = registry::aggregators().get(args_.federated_optimizer)(args_);
  strategy_ = make_round_strategy(args_, std::move(aggregator));
  exchange_ = make_round_exchange(round_context(), *strategy_);
}

RoundContext ServerManager::round_context() {
  auto send = [this](MsgType type, int64_t silo, nlohmann::json sa) {
    auto m = make(type, silo);
    m.sa = std::move(sa);
    transport_.send(m);
  };
  return RoundContext{
      args_,
      clock_,
      store_,
      events_,
      log_,
      layout_,
      online_,
      data_silo_sizes_,
      [this](int64_t silo) { send_round_request(silo); },
      send,
      [this](int64_t silo) { transport_.send(make(MsgType::kCheckClientStatus, silo)); },
      [this](const std::string& key) { blobs_[round_].push_back(key); }};
}

double ServerManager::ms_since(Clock::time_point t) const {
  return std::chrono::duration<double, std::milli>(clock_.now() - t).count();
}

Message ServerManager::make(MsgType type, int64_t receiver) {
  Message m;
  m.type = type;
  m.id = ids_.next();
  m.run_id = args_.run_id;
  m.sender = 0;
  m.receiver = receiver;
  m.round = round_;
  m.sent_at_us = comm::now_us();
  return m;
}

void ServerManager::start() {
  run_start_ = clock_.now();
  auto resumed = checkpoint_.load(args_.run_id, layout_);
  recorder_.open(resumed ? &resumed->meta : nullptr);
  if (resumed) {
    resume(*resumed);
    if (done()) return;
  } else {
    // A new run under this id: an earlier run's FINISH kept by the broker must not end it.
    for (int id : args_.client_id_list) transport_.clear_retained(id);
  }
  deadline_ = clock_.now() + seconds_to_duration(args_.online_timeout_s);
  events_.set_state("waiting for silos");
  FS_LOG_INFO(
      log_,
      "server started: run {}, {} rounds, silos [{}], waiting up to {} s for them to come online",
      args_.run_id, args_.comm_round, fmt::join(args_.client_id_list, ", "),
      args_.online_timeout_s);
  if (args_.enable_attack) {
    FS_LOG_WARN(log_, "ATTACK SIMULATION is on (attack_args): silos [{}] misbehave on purpose",
                fmt::join(attacks::attacking_silos(args_), ", "));
  }
  // Silos that started first already said ONLINE before we listened; ask them again.
  for (int id : args_.client_id_list) transport_.send(make(MsgType::kCheckClientStatus, id));
}

std::string ServerManager::waiting_for() const {
  switch (state_) {
    case State::kWaitingOnline: {
      std::vector<int64_t> missing;
      for (int id : args_.client_id_list) {
        if (!online_.count(id)) missing.push_back(id);
      }
      return fmt::format("silos [{}] to come online", fmt::join(missing, ", "));
    }
    case State::kTraining:
      return exchange_->waiting_for();
    case State::kDone:
      return "nothing (run finished)";
  }
  return "";
}

void ServerManager::send_round_request(int64_t silo) {
  asked_.insert(silo);
  auto m = make(round_ == 0 ? MsgType::kInitConfig : MsgType::kSyncModel, silo);
  m.model = global_ref_;
  m.data_silo_index = data_index_[silo];
  m.control = payload_ref(silo);
  transport_.send(m);
}

BlobRef ServerManager::payload_ref(int64_t silo) {
  auto it = payload_refs_.find(silo);
  if (it != payload_refs_.end()) return it->second;
  BlobRef ref;
  auto payload = strategy_->payload_for(data_index_[silo]);
  if (!payload.empty()) {
    ref = put_with_retries(control_blob_key(args_.run_id, silo, round_), payload);
    blobs_[round_].push_back(ref.key);
  }
  return payload_refs_[silo] = ref;
}

void ServerManager::handle(const Message& m) {
  if (m.run_id != args_.run_id) {
    FS_LOG_WARN(log_, "dropping {} {} from {}: it belongs to run {}, this is run {}",
                to_string(m.type), m.id, m.sender, m.run_id, args_.run_id);
    return;
  }
  bool known = std::find(args_.client_id_list.begin(), args_.client_id_list.end(), m.sender) !=
               args_.client_id_list.end();
  if (!known) {
    FS_LOG_WARN(log_, "dropping {} {} from unknown silo id {} (client_id_list is [{}])",
                to_string(m.type), m.id, m.sender, fmt::join(args_.client_id_list, ", "));
    return;
  }
  // Whatever a silo sends says it is there; only its last will says it is gone.
  if (!(m.type == MsgType::kClientStatus && m.status == comm::Status::kOffline)) {
    online_.insert(m.sender);
    events_.silo_seen(m.sender);
    if (state_ == State::kTraining) exchange_->heard(m);
  }
  switch (m.type) {
    case MsgType::kClientStatus:
      on_status(m);
      break;
    case MsgType::kSendModel:
    case MsgType::kSaAdvertise:
    case MsgType::kSaShares:
    case MsgType::kSaReveal:
      on_round_message(m);
      break;
    default:
      FS_LOG_WARN(log_, "dropping {} {} from silo {}: the server does not take this message type",
                  to_string(m.type), m.id, m.sender);
  }
  settle();
}

void ServerManager::on_round_message(const Message& m) {
  if (state_ != State::kTraining) {
    FS_LOG_WARN(log_, "dropping {} {} from silo {} for round {}: the server is not training",
                to_string(m.type), m.id, m.sender, m.round);
    return;
  }
  exchange_->on_message(m);
}

void ServerManager::settle() {
  // Finishing a round starts the next, which may complete at once (every silo offline).
  while (state_ == State::kTraining) {
    switch (exchange_->state()) {
      case RoundExchange::State::kComplete:
        finish_round();
        break;
      case RoundExchange::State::kFailed:
        abort(exchange_->failure(), ExitCode::kDeadline);
        break;
      case RoundExchange::State::kOpen:
        return;
    }
  }
}

void ServerManager::start_round(int64_t round) {
  state_ = State::kTraining;
  round_ = round;
  round_start_ = clock_.now();
  stats_ = RoundStats{};
  stats_.round = round;
  stats_.selected = select_silos(args_, round);
  selected_ = exchange_->participants(stats_.selected, stats_);
  auto data = select_data_silos(args_, round, stats_.selected.size());
  data_index_.clear();
  for (size_t i = 0; i < stats_.selected.size(); ++i) data_index_[stats_.selected[i]] = data[i];
  FS_LOG_INFO(log_,
              "round {}: silos [{}] on data silos [{}] (client_num_in_total = {}, "
              "client_num_per_round = {})",
              round, fmt::join(selected_, ", "), fmt::join(data, ", "), args_.client_num_in_total,
              args_.client_num_per_round);
  auto t0 = clock_.now();
  auto global = state_of(model_.module());
  global_ref_ = put_with_retries(global_blob_key(args_.run_id, round), global);  // once a round
  blobs_[round].push_back(global_ref_.key);
  stats_.server_upload_ms = ms_since(t0);
  strategy_->begin_round(global);
  payload_refs_.clear();
  exchange_->begin(RoundPlan{round, selected_, data_index_, global_ref_.size, &stats_});
  asked_.clear();
  std::vector<int64_t> offline, asked;
  for (int64_t silo : selected_) {
    if (online_.count(silo)) {
      send_round_request(silo);
      asked.push_back(silo);
    } else {
      offline.push_back(silo);  // asked when it says ONLINE; not waited for beyond the quorum
    }
  }
  events_.round_started(round, asked);
  if (!offline.empty())
    FS_LOG_WARN(log_, "round {}: selected silos [{}] are offline; the round needs {} of {} models",
                round, fmt::join(offline, ", "), args_.min_clients_per_round, selected_.size());
  exchange_->opened();
}

void ServerManager::finish_round() {
  auto t0 = clock_.now();
  auto outcome = exchange_->outcome();
  if (outcome.model) {
    stats_.aggregation = outcome.metrics;
    try {
      check_finite(*outcome.model, fmt::format("aggregate of round {}", round_));
      load_state(model_.module(), *outcome.model, "aggregate");
    } catch (const ProtocolError& e) {
      // Never publish a non-finite global model: the round's result is dropped instead.
      FS_LOG_ERROR(log_, "round {}: {}; the round is rejected and the global model stays as it was",
                   round_, e.what());
      stats_.aggregate_rejected = true;
    }
  } else {
    stats_.aggregate_rejected = true;  // no new global model, whatever the reason
  }
  stats_.aggregate_ms = ms_since(t0);
  int64_t retire_below = round_ + 1 - args_.blob_retention_rounds;
  bool last = round_ + 1 == args_.comm_round;
  if (round_ % args_.frequency_of_the_test == 0 || last) {
    FS_LOG_INFO(log_, "################test_on_server_for_all_clients : {}", round_);
    t0 = clock_.now();
    auto metrics = evaluate_ ? evaluate_(model_, round_) : nlohmann::json::object();
    stats_.evaluate_ms = ms_since(t0);
    stats_.metrics = metrics;
    last_metrics_ = metrics;
    FS_LOG_INFO(log_, "round {}: {}", round_, metrics.dump());
  }
  stats_.round_ms = ms_since(round_start_);
  stats_.elapsed_s = ms_since(run_start_) / 1000.0;
  last_record_ = stats_.to_json();
  // The checkpoint first: a crash before the metrics line is mended from it on restart.
  save_checkpoint(false);
  events_.round_finished(stats_, global_ref_.size, outcome.bytes_in);
  if (!last) {
    start_round(round_ + 1);
  } else {
    finish_run();
  }
  // After the next round's requests are out: the deletes (one store request each, 6-8 ms with
  // s3rver) overlap the silos' work instead of delaying it.
  retire_blobs(retire_below);
}

void ServerManager::set_data_silo_sizes(std::map<int64_t, int64_t> sizes) {
  data_silo_sizes_ = std::move(sizes);
}

// Deletes the blobs of every round up to `round` (exclusive of later ones): with retention N,
// the blobs of the last N rounds stay in the store.
void ServerManager::retire_blobs(int64_t round) {
  std::vector<std::string> keys;
  while (!blobs_.empty() && blobs_.begin()->first < round) {
    keys.insert(keys.end(), blobs_.begin()->second.begin(), blobs_.begin()->second.end());
    blobs_.erase(blobs_.begin());
  }
  if (keys.empty()) return;
  try {
    store_.remove_all(keys);  // one request with S3, in front of the silos' next ones
  } catch (const Error& e) {
    FS_LOG_WARN(log_, "could not remove {} old blob(s) ({} ...): {}", keys.size(), keys.front(),
                e.what());
  }
}

void ServerManager::finish_run() {
  auto final_state = state_of(model_.module());
  auto path = recorder_.final_model(final_state);
  events_.run_ended("completed");
  auto ref = put_with_retries(final_blob_key(args_.run_id), final_state);
  save_checkpoint(true, ref);

  global_ref_ = ref;
  for (int id : args_.client_id_list) {
    auto m = make(MsgType::kFinish, id);
    m.model = ref;
    m.status = comm::Status::kCompleted;
    transport_.send_retained(m);  // heard by silos restarted after the run ended too
  }
  state_ = State::kDone;
  events_.set_state("completed");
  FS_LOG_INFO(log_,
              "run {} finished: {} rounds in {:.2f} s; final model {}; metrics {}/metrics.jsonl",
              args_.run_id, args_.comm_round, ms_since(run_start_) / 1000.0, path, recorder_.dir());
  if (recorder_.rounds_with_new_model() == 0) {
    // Not a success: the "final" model is the initial one.
    FS_LOG_ERROR(log_,
                 "every one of the {} rounds was rejected (metrics.jsonl: aggregate_rejected, "
                 "rejected); the final model is the initial model: exit {}",
                 args_.comm_round, to_int(ExitCode::kNoProgress));
    exit_code_ = ExitCode::kNoProgress;
  }
}

}  // namespace fedsilo::cross_silo
